/// The JavaScript that runs before any pipeline function: GenAuth globals (`env`, `log`,
/// `console`, `require('./utils')`, `require('querystring')`), the claim methods, the per-call
/// runner, and finally a deep freeze of every intrinsic reachable from the global object so that
/// no call can leave state behind for the next one. Evaluated once per worker; it returns the
/// runner's entry points, which are never reachable from user code.
enum Bootstrap {
    static let source = #"""
(function () {
  'use strict';
  const global = globalThis;
  const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp',
                              'at_hash', 'c_hash', 'client_id', 'scope', 'cnf', 'typ']);
  const MAX_CLAIM_BYTES = 65536, MAX_LOG_LINES = 100, MAX_LOG_CHARS = 2048;
  const stringify = JSON.stringify, parse = JSON.parse, freeze = Object.freeze;
  const defineProperty = Object.defineProperty, isExtensible = Object.isExtensible;
  let currentEnv = freeze({});
  let active = null;  // the run in progress
  let sink = null;

  function text(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return String(v);
    try { const s = stringify(v); return s === undefined ? String(v) : s; } catch (e) { return String(v); }
  }
  function pushLog(run, fn, message) {
    if (run.logs.length >= MAX_LOG_LINES) { run.droppedLogs++; return; }
    if (message.length > MAX_LOG_CHARS) message = message.slice(0, MAX_LOG_CHARS) + '…';
    run.logs.push([fn, message]);
  }
  function log() {
    if (sink === null) return;
    const parts = [];
    for (let i = 0; i < arguments.length; i++) parts.push(text(arguments[i]));
    pushLog(sink.run, sink.fn, parts.join(' '));
  }

  function ipv4(s) {
    const p = s.split('.');
    if (p.length !== 4) return null;
    const out = [];
    for (const x of p) { const n = number(x, 10, 3); if (n < 0 || n > 255) return null; out.push(n); }
    return out;
  }
  // Digits only (no regular expressions: they take JavaScriptCore's slow path once RegExp is frozen).
  function number(s, radix, maxDigits) {
    if (s.length === 0 || s.length > maxDigits) return -1;
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : 99;
      if (d >= radix) return -1;
      n = n * radix + d;
    }
    return n;
  }
  function ipv6(s) {
    let tail = [];
    const lastColon = s.lastIndexOf(':');
    if (s.indexOf('.') > lastColon && lastColon >= 0) {
      const v4 = ipv4(s.slice(lastColon + 1)); if (!v4) return null;
      tail = v4; s = s.slice(0, lastColon + 1) + '0:0';
    }
    const halves = s.split('::');
    if (halves.length > 2) return null;
    const group = (h) => h === '' ? [] : h.split(':');
    const head = group(halves[0]), rest = halves.length === 2 ? group(halves[1]) : [];
    const fill = 8 - head.length - rest.length;
    if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
    const words = head.concat(new Array(halves.length === 2 ? fill : 0).fill('0'), rest);
    const out = [];
    for (const w of words) { const n = number(w, 16, 4); if (n < 0) return null; out.push(n >> 8, n & 255); }
    if (tail.length) out.splice(12, 4, tail[0], tail[1], tail[2], tail[3]);
    return out;
  }
  function ipBytes(ip) {
    if (typeof ip !== 'string') return null;
    const v4 = ipv4(ip.trim());
    return v4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255].concat(v4) : ipv6(ip.trim());
  }
  function compare(a, b) { for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; return 0; }
  function ipRangeCheck(ip, range) {
    if (typeof range === 'string') range = [range, range];
    if (!Array.isArray(range) || range.length !== 2) return false;
    const x = ipBytes(ip), lo = ipBytes(range[0]), hi = ipBytes(range[1]);
    return !!(x && lo && hi) && compare(lo, x) <= 0 && compare(x, hi) <= 0;
  }

  function qsUnescape(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return s; } }
  function qsParse(str, sep, eq) {
    sep = sep || '&'; eq = eq || '=';
    const out = {};
    if (typeof str !== 'string' || str.length === 0) return out;
    for (const part of str.split(sep)) {
      if (part === '') continue;
      const i = part.indexOf(eq);
      const k = qsUnescape(i >= 0 ? part.slice(0, i) : part), v = i >= 0 ? qsUnescape(part.slice(i + eq.length)) : '';
      if (Object.prototype.hasOwnProperty.call(out, k)) out[k] = [].concat(out[k], v); else out[k] = v;
    }
    return out;
  }
  function qsStringify(obj, sep, eq) {
    sep = sep || '&'; eq = eq || '=';
    if (obj === null || typeof obj !== 'object') return '';
    const parts = [];
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      for (const item of Array.isArray(v) ? v : [v]) {
        const s = item === undefined || item === null ? '' : (typeof item === 'object' ? '' : String(item));
        parts.push(encodeURIComponent(k) + eq + encodeURIComponent(s));
      }
    }
    return parts.join(sep);
  }
  const modules = {
    './utils': freeze({ ipRangeCheck: ipRangeCheck }),
    'querystring': freeze({ parse: qsParse, decode: qsParse, stringify: qsStringify, encode: qsStringify,
                            escape: encodeURIComponent, unescape: qsUnescape }),
  };
  function requireModule(name) {
    if (name === 'utils' || name === './utils.js') name = './utils';
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error("Cannot find module '" + String(name) + "'");
  }

  const consoleObject = freeze({ log: log, info: log, warn: log, error: log, debug: log });
  for (const [name, value] of [['log', log], ['console', consoleObject], ['require', requireModule]]) {
    defineProperty(global, name, { value: value, writable: false, enumerable: false, configurable: false });
  }
  defineProperty(global, 'env', { get: function () { return currentEnv; }, enumerable: false, configurable: false });
  for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry', 'WeakRef']) {
    try { delete global[name]; } catch (e) {}
  }

  // Claim methods. They always act on the active run's current function, so that the ops of a function
  // that fails and is skipped can be dropped as a whole. Runs never overlap in a worker, and no code
  // of a run can execute after it ended (its microtasks have drained; there are no timers).
  function claimName(method, key) {
    if (typeof key !== 'string' || key.length === 0 || key.length > 256) {
      throw new TypeError(method + ': the claim name must be a non-empty string of at most 256 characters');
    }
    return key;
  }
  function operation(run, method, scope, kind, key, value) {
    const fs = run.current;
    if (fs === null) return;
    key = claimName(method, key);
    const valid = scope === 'token' || (scope === 'id' && run.trigger === 'pre_id_token') ||
                  (scope === 'access' && run.trigger === 'pre_access_token');
    if (!valid) { pushLog(run, fs.name, method + ' is not valid in ' + run.trigger + '; ignored'); return; }
    if (REGISTERED.has(key)) {
      run.refused.push(key);
      pushLog(run, fs.name, method + ': "' + key + '" is a registered claim and cannot be changed; dropped');
      return;
    }
    if (kind === 'remove') { fs.ops.push('["remove",' + stringify(key) + ']'); return; }
    let json;
    try { json = stringify(value === undefined ? null : value); } catch (e) { throw new TypeError(method + ': value is not JSON: ' + e); }
    if (json === undefined) json = 'null';
    fs.bytes += key.length + json.length + 4;
    if (run.bytes + fs.bytes > MAX_CLAIM_BYTES) throw new RangeError('pipeline claims exceed 64 KiB for this token');
    fs.ops.push('["add",' + stringify(key) + ',' + json + ']');
  }
  // One frozen prototype carries the methods: plain objects (what JSON gives) get it as their prototype,
  // so the methods are never own, enumerable or serialised; other objects get them as own properties.
  const METHODS = Object.create(Object.prototype);
  for (const [name, scope, kind] of [['addToken', 'token', 'add'], ['setTokenField', 'token', 'add'],
                                     ['addIdToken', 'id', 'add'], ['setIdTokenField', 'id', 'add'],
                                     ['addAccessToken', 'access', 'add'], ['removeIdToken', 'id', 'remove'],
                                     ['removeAccessToken', 'access', 'remove'], ['removeTokenField', 'token', 'remove']]) {
    const method = function (key, value) { if (active !== null) operation(active, name, scope, kind, key, value); };
    defineProperty(METHODS, name, { value: method, writable: false, enumerable: false, configurable: false });
  }
  freeze(METHODS);
  const getPrototypeOf = Object.getPrototypeOf, setPrototypeOf = Object.setPrototypeOf, objectPrototype = Object.prototype;
  function withMethods(obj) {
    if (obj === null || typeof obj !== 'object') return obj;
    const proto = getPrototypeOf(obj);
    if (proto === METHODS) return obj;
    if (!isExtensible(obj)) obj = Object.assign({}, obj);
    else if (proto !== objectPrototype) {
      for (const name of Reflect.ownKeys(METHODS)) {
        defineProperty(obj, name, { value: METHODS[name], writable: true, enumerable: false, configurable: true });
      }
      return obj;
    }
    setPrototypeOf(obj, METHODS);
    return obj;
  }
  function message(e) {
    if (e instanceof Error) return e.message || String(e);
    if (e !== null && typeof e === 'object' && typeof e.message === 'string') return e.message;
    return text(e);
  }

  function begin(trigger, env, userJSON, contextJSON) {
    currentEnv = env;
    return { trigger: trigger, user: parse(userJSON), context: parse(contextJSON), current: null,
             ops: [], bytes: 0, logs: [], refused: [], droppedLogs: 0, snapshot: null };
  }
  function step(run, factory, name, snapshot) {
    const fs = { name: name, ops: [], bytes: 0, status: null, message: '', user: undefined, context: undefined };
    run.snapshot = snapshot ? stringify([run.user, run.context]) : null;
    run.current = fs;
    sink = { run: run, fn: name };
    let pipe;
    try { pipe = factory(); } catch (e) { fs.status = 'failed'; fs.message = 'load: ' + text(e); return fs; }
    if (typeof pipe !== 'function') { fs.status = 'failed'; fs.message = 'the file does not define function pipe'; return fs; }
    const user = withMethods(run.user), context = withMethods(run.context);
    const legacy = pipe.length === 2;
    const callback = function (err, a, b) {
      if (fs.status !== null) return;
      if (err !== null && err !== undefined) { fs.status = 'denied'; fs.message = message(err); return; }
      fs.status = 'ok';
      const n = arguments.length, isObject = (v) => v !== null && typeof v === 'object';
      if (legacy) { if (n >= 2 && isObject(a)) fs.context = a; }
      else if (n >= 3) { if (a === null || isObject(a)) fs.user = a; if (isObject(b)) fs.context = b; }
      else if (n === 2 && isObject(a)) { if (a === user) fs.user = a; else fs.context = a; }
    };
    let result;
    try { result = legacy ? pipe(context, callback) : pipe(user, context, callback); }
    catch (e) { if (fs.status === null) { fs.status = 'failed'; fs.message = 'threw: ' + text(e); } return fs; }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      try {
        result.then(undefined, function (e) { if (fs.status === null) { fs.status = 'failed'; fs.message = 'rejected: ' + text(e); } });
      } catch (e) {}
    }
    return fs;
  }
  // Called after step's VM entry returned, i.e. after every microtask it queued has run.
  function settle(run, fs, skip) {
    run.current = null; sink = null;
    if (fs.status === 'ok') {
      if (fs.user !== undefined) run.user = fs.user;
      if (fs.context !== undefined) run.context = fs.context;
      for (const op of fs.ops) run.ops.push(op);
      run.bytes += fs.bytes;
      return 'ok';
    }
    if (skip) restore(run);
    if (fs.status === 'denied') return 'denied\u0000' + fs.message;
    if (fs.status === 'failed') return 'failed\u0000' + fs.message;
    return 'pending';
  }
  function restore(run) {
    run.current = null; sink = null;
    if (run.snapshot !== null) { const s = parse(run.snapshot); run.user = s[0]; run.context = s[1]; }
    return 'restored';
  }
  function finish(run) {
    currentEnv = freeze({});
    return '{"ops":[' + run.ops.join(',') + '],"logs":' + stringify(run.logs) + ',"refused":' + stringify(run.refused) +
           ',"droppedLogs":' + run.droppedLogs + '}';
  }

  // The worker's entry points. One VM entry per function: each entry first settles the function the
  // previous entry stepped (its microtasks have all run when that entry returned), then steps the
  // next. The run in progress lives here, never in the worker's hands.
  function record(run, index, skip, status) {
    const cut = status.indexOf('\u0000');
    const outcome = cut < 0 ? status : status.slice(0, cut), text = cut < 0 ? '' : status.slice(cut + 1);
    run.results.push('{"i":' + index + ',"o":' + stringify(outcome) + ',"m":' + stringify(text) + '}');
    if (outcome !== 'ok' && (outcome === 'denied' || !skip)) run.stopped = true;
    return !run.stopped;
  }
  function settlePending(run, timedOut) {
    const p = run.pending;
    if (p === null) return !run.stopped;
    run.pending = null;
    let status = settle(run, p.fs, p.skip);
    if (status === 'pending' && timedOut) status = 'timeout';
    return record(run, p.index, p.skip, status);
  }
  function stepInto(run, index, factory, name, skip) {
    run.pending = { index: index, skip: skip, fs: null };
    run.pending.fs = step(run, factory, name, skip);
  }
  function start(trigger, env, userJSON, contextJSON, index, factory, name, skip) {
    active = begin(trigger, env, userJSON, contextJSON);
    active.results = []; active.pending = null; active.stopped = false;
    stepInto(active, index, factory, name, skip);
    return true;
  }
  // Settles the previous function; steps the next one unless the run has stopped. True when stepped.
  function advance(timedOut, index, factory, name, skip) {
    if (!settlePending(active, timedOut)) return false;
    stepInto(active, index, factory, name, skip);
    return true;
  }
  // The entry that stepped `index` was terminated or threw outside the function.
  function fail(index, skip, status) {
    active.pending = null;
    restore(active);
    return record(active, index, skip, status);
  }
  function end(timedOut) {
    const run = active;
    active = null;
    settlePending(run, timedOut);
    return '{"results":[' + run.results.join(',') + '],"out":' + finish(run) + '}';
  }
  function makeEnv(json) { return deepFreezeValue(parse(json)); }
  function deepFreezeValue(v) {
    if (v !== null && typeof v === 'object') { for (const k of Object.keys(v)) deepFreezeValue(v[k]); freeze(v); }
    return v;
  }

  // Freeze every intrinsic reachable from the global object, then the global object itself.
  (function lockdown() {
    const seen = new Set(), stack = [global];
    while (stack.length > 0) {
      const o = stack.pop();
      if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
      seen.add(o);
      const proto = Object.getPrototypeOf(o);
      if (proto !== null) stack.push(proto);
      for (const k of Reflect.ownKeys(o)) {
        let d;
        try { d = Object.getOwnPropertyDescriptor(o, k); } catch (e) { continue; }
        if (d === undefined) continue;
        if ('value' in d) stack.push(d.value); else { if (d.get) stack.push(d.get); if (d.set) stack.push(d.set); }
      }
      if (o !== global) { try { freeze(o); } catch (e) {} }
    }
    freeze(global);
  })();

  return freeze({ start: start, advance: advance, fail: fail, end: end, makeEnv: makeEnv });
})()
"""#
}
