#ifndef TOKENSERVICE_CJANSSON_SHIM_H
#define TOKENSERVICE_CJANSSON_SHIM_H
#include <jansson.h>

/// Jansson's reference counting and type tests are macros or inline functions; expose them to Swift.
static inline json_t *ts_json_incref(json_t *j) { return json_incref(j); }
static inline void ts_json_decref(json_t *j) { json_decref(j); }
static inline int ts_json_typeof(const json_t *j) { return (int)json_typeof(j); }
static inline json_t *ts_json_true(void) { return json_true(); }
static inline json_t *ts_json_false(void) { return json_false(); }
static inline json_t *ts_json_null(void) { return json_null(); }
static inline int ts_json_object_set_new(json_t *o, const char *k, size_t klen, json_t *v) {
    return json_object_setn_new(o, k, klen, v);
}
static inline int ts_json_array_append_new(json_t *a, json_t *v) { return json_array_append_new(a, v); }
static inline size_t ts_JSON_REJECT_DUPLICATES(void) { return JSON_REJECT_DUPLICATES; }
static inline size_t ts_JSON_DECODE_ANY(void) { return JSON_DECODE_ANY; }
static inline size_t ts_JSON_ALLOW_NUL(void) { return JSON_ALLOW_NUL; }
static inline size_t ts_JSON_COMPACT(void) { return JSON_COMPACT; }
static inline size_t ts_JSON_ENCODE_ANY(void) { return JSON_ENCODE_ANY; }
static inline size_t ts_JSON_PRESERVE_ORDER(void) { return JSON_PRESERVE_ORDER; }
#endif
