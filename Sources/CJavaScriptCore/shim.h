#ifndef TOKENSERVICE_CJSC_SHIM_H
#define TOKENSERVICE_CJSC_SHIM_H
#include <JavaScriptCore/JavaScript.h>

/// Exported by libjavascriptcoregtk-4.1 but absent from its shipped headers (JSContextRefPrivate.h).
/// The pipeline worker self-tests both at start-up before relying on them.
typedef bool (*ts_JSShouldTerminateCallback)(JSContextRef ctx, void *context);
void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef group, double limit,
                                         ts_JSShouldTerminateCallback callback, void *context);
void JSContextGroupClearExecutionTimeLimit(JSContextGroupRef group);
void JSGlobalContextSetEvalEnabled(JSGlobalContextRef ctx, bool enabled, JSStringRef message);
#endif
