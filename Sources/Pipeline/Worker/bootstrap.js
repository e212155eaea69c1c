(function (hostFetch, lodash) {
  'use strict';
  const global = globalThis;
  const MAX_LOG_LINES = 100, MAX_LOG_CHARS = 2048;
  const stringify = JSON.stringify, parse = JSON.parse, freeze = Object.freeze;
  const defineProperty = Object.defineProperty, isExtensible = Object.isExtensible;
  const EMPTY_ENV = freeze({});
  let active = null;  // the run whose code this VM entry runs
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
  // axios (GenAuth's documented global), the subset the contract names. The service makes the call:
  // allow-list, deadline, body bound and redirects are enforced there, out of this code's reach.
  // An Error without a captured stack (capturing one costs more than the rest of a refused call, and a
  // notifier may be refused for every token): `instanceof Error`, `name`, `message`, `toString` as axios.
  const AXIOS_ERROR = freeze(Object.create(Error.prototype, { name: { value: 'AxiosError', writable: true, configurable: true } }));
  function axiosError(message, code, config, response) {
    // `message` exists on the frozen Error.prototype: plain assignment would throw in strict mode.
    const e = Object.create(AXIOS_ERROR, { message: { value: String(message), writable: true, configurable: true } });
    e.code = code; e.config = config; e.isAxiosError = true;
    if (response !== undefined) { e.response = response; e.status = response.status; }
    return e;
  }
  function headerObject(h) {
    const o = {};
    if (h !== null && typeof h === 'object') for (const k of Object.keys(h)) { const v = h[k]; if (v !== undefined && v !== null) o[k] = String(v); }
    return o;
  }
  function hasHeader(h, name) { for (const k of Object.keys(h)) if (k.toLowerCase() === name) return true; return false; }
  function toResponse(r, config) {
    let data = r.data;
    if (typeof data === 'string' && data.length > 0) { try { data = parse(data); } catch (e) {} }
    return { status: r.status, statusText: r.statusText || '', headers: r.headers || {}, data: data, config: config };
  }
  function httpRequest(config) {
    return new Promise(function (resolve, reject) {
      if (config === null || typeof config !== 'object') config = {};
      const run = active;
      let url = config.url === undefined ? '' : String(config.url);
      if (config.params !== null && typeof config.params === 'object') {
        const q = qsStringify(config.params);
        if (q !== '') url += (url.indexOf('?') >= 0 ? '&' : '?') + q;
      }
      const headers = headerObject(config.headers);
      let body = null;
      if (config.data !== undefined && config.data !== null) {
        if (typeof config.data === 'string') body = config.data;
        else { body = stringify(config.data); if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json'; }
      }
      const timeout = Number(config.timeout) > 0 ? Math.floor(Number(config.timeout)) : 0;
      const method = String(config.method || 'get').toUpperCase();
      // The host answers a call id, or the call's outcome at once (refused before it left the worker).
      const answer = run === null || run.current === null || run.pending === null ? '0'
        : String(hostFetch(stringify({ method: method, url: url, headers: headers, data: body, timeout: timeout }), run.pending.index));
      if (answer.charCodeAt(0) === 123) { settleCall({ resolve: resolve, reject: reject, config: config }, answer); return; }
      const id = Number(answer);
      if (!(id > 0)) { reject(axiosError('outbound HTTP is available only while a pipeline function runs', 'ERR_CANCELED', config)); return; }
      run.calls.set(id, { resolve: resolve, reject: reject, config: config });
    });
  }
  function makeAxios(defaults) {
    const merge = function (c) {
      c = c !== null && typeof c === 'object' ? c : {};
      return Object.assign({}, defaults, c, { headers: Object.assign({}, defaults.headers, c.headers) });
    };
    const ax = function (a, b) { return typeof a === 'string' ? httpRequest(merge(Object.assign({}, b, { url: a }))) : httpRequest(merge(a)); };
    ax.request = function (c) { return httpRequest(merge(c)); };
    for (const m of ['get', 'delete', 'head', 'options']) {
      ax[m] = function (url, c) { return httpRequest(merge(Object.assign({}, c, { url: url, method: m }))); };
    }
    for (const m of ['post', 'put', 'patch']) {
      ax[m] = function (url, data, c) { return httpRequest(merge(Object.assign({}, c, { url: url, method: m, data: data }))); };
    }
    ax.create = function (d) { return makeAxios(merge(d)); };
    ax.isAxiosError = function (e) { return !!(e && e.isAxiosError); };
    return freeze(ax);
  }
  const axios = makeAxios({});

  const modules = {
    'axios': axios,
    './utils': freeze({ ipRangeCheck: ipRangeCheck }),
    'querystring': freeze({ parse: qsParse, decode: qsParse, stringify: qsStringify, encode: qsStringify,
                            escape: encodeURIComponent, unescape: qsUnescape }),
  };
  function requireModule(name) {
    if (name === 'utils' || name === './utils.js') name = './utils';
    if (name === 'lodash') {
      if (lodash === undefined) throw new Error("Cannot find module 'lodash': install Debian's libjs-lodash");
      return lodash;
    }
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new Error("Cannot find module '" + String(name) + "'");
  }

  // GenAuth's management SDK (the global `authing`): every call, at any depth, rejects — templates that
  // catch the rejection go on. It is not thenable, so `await authing` is not a call.
  const AUTHING_UNAVAILABLE = 'the GenAuth management SDK is not available here';
  const authing = new Proxy(function () {}, {
    get: function (target, key) { return key === 'then' || typeof key === 'symbol' ? undefined : authing; },
    apply: function () { return Promise.reject(new Error(AUTHING_UNAVAILABLE)); },
    set: function () { return false; },
    defineProperty: function () { return false; },
  });

  const consoleObject = freeze({ log: log, info: log, warn: log, error: log, debug: log });
  for (const [name, value] of [['log', log], ['console', consoleObject], ['require', requireModule], ['axios', axios], ['authing', authing]]) {
    defineProperty(global, name, { value: value, writable: false, enumerable: false, configurable: false });
  }
  defineProperty(global, 'env', { get: function () { return active !== null ? active.settings.env : EMPTY_ENV; }, enumerable: false, configurable: false });
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
    const trigger = run.settings.trigger;
    // A Transaction Token's pipeline adds to its tctx only; the token methods are for ID and access tokens.
    const valid = (scope === 'txn') === (trigger === 'pre_transaction_token') &&
                  (scope === 'token' || scope === 'txn' || (scope === 'id' && trigger === 'pre_id_token') ||
                   (scope === 'access' && trigger === 'pre_access_token'));
    if (!valid) { pushLog(run, fs.name, method + ' is not valid in ' + trigger + '; ignored'); return; }
    if (scope !== 'txn' && run.settings.registered.has(key)) {
      run.refused.push(key);
      pushLog(run, fs.name, method + ': "' + key + '" is a registered claim and cannot be changed; dropped');
      return;
    }
    if (kind === 'remove') { fs.ops.push('["remove",' + stringify(key) + ']'); return; }
    let json;
    try { json = stringify(value === undefined ? null : value); } catch (e) { throw new TypeError(method + ': value is not JSON: ' + e); }
    if (json === undefined) json = 'null';
    fs.bytes += key.length + json.length + 4;
    if (run.bytes + fs.bytes > run.settings.maxBytes) {
      throw new RangeError('pipeline claims exceed ' + (run.settings.maxBytes >> 10) + ' KiB for this token');
    }
    fs.ops.push('["add",' + stringify(key) + ',' + json + ']');
  }
  // One frozen prototype carries the methods: plain objects (what JSON gives) get it as their prototype,
  // so the methods are never own, enumerable or serialised; other objects get them as own properties.
  const METHODS = Object.create(Object.prototype);
  for (const [name, scope, kind] of [['addToken', 'token', 'add'], ['setTokenField', 'token', 'add'],
                                     ['addIdToken', 'id', 'add'], ['setIdTokenField', 'id', 'add'],
                                     ['addAccessToken', 'access', 'add'], ['removeIdToken', 'id', 'remove'],
                                     ['removeAccessToken', 'access', 'remove'], ['removeTokenField', 'token', 'remove'],
                                     ['addTxnContext', 'txn', 'add']]) {
    const method = function (key, value) { if (active !== null) operation(active, name, scope, kind, key, value); };
    defineProperty(METHODS, name, { value: method, writable: false, enumerable: false, configurable: false });
  }
  // GenAuth's user.addCustomData: customData for the functions that follow in this run (no user store).
  defineProperty(METHODS, 'addCustomData', {
    value: function (key, value) {
      if (this === null || typeof this !== 'object') return;
      let data = this.customData;
      if (data === null || typeof data !== 'object') { data = {}; this.customData = data; }
      defineProperty(data, String(key), { value: value, writable: true, enumerable: true, configurable: true });
    },
    writable: false, enumerable: false, configurable: false });
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

  function begin(settings, userJSON, contextJSON) {
    return { settings: settings, user: parse(userJSON), context: parse(contextJSON), current: null,
             ops: [], bytes: 0, logs: [], refused: [], droppedLogs: 0, snapshot: null,
             results: [], pending: null, stopped: false, calls: new Map() };
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
  // What the worker sends for the functions recorded so far: `{"results": [...], "out": {...}}`.
  function reply(run) { return '{"results":[' + run.results.join(',') + '],"out":' + finish(run) + '}'; }
  function finish(run) {
    return '{"ops":[' + run.ops.join(',') + '],"logs":' + stringify(run.logs) + ',"refused":' + stringify(run.refused) +
           ',"droppedLogs":' + run.droppedLogs + '}';
  }

  // The worker's entry points. One VM entry per function: each entry first settles the function the
  // previous entry stepped (its microtasks have all run when that entry returned), then steps the
  // next. The worker holds each run as an opaque handle; with `park`, a function still pending (it
  // awaits the network) is left pending and the run waits for its calls' outcomes.
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
  function enter(run) {
    clearRegExpStatics();
    active = run;
    sink = run.current !== null ? { run: run, fn: run.current.name } : null;
  }
  function parks(run, park) { return park && run.pending !== null && run.pending.fs.status === null; }
  function start(settings, userJSON, contextJSON, index, factory, name, skip) {
    clearRegExpStatics();
    const run = begin(settings, userJSON, contextJSON);
    active = run;
    stepInto(run, index, factory, name, skip);
    return run;
  }
  // Settles the previous function and steps the next one: 1 when stepped, 0 when the run has
  // stopped, 2 when the previous function is still pending and the run parks.
  function advance(run, timedOut, park, index, factory, name, skip) {
    enter(run);
    if (parks(run, park)) return 2;
    if (!settlePending(run, timedOut)) return 0;
    stepInto(run, index, factory, name, skip);
    return 1;
  }
  // The entry that stepped `index` was terminated or threw outside the function.
  function fail(run, index, skip, status) {
    enter(run);
    run.pending = null;
    restore(run);
    return record(run, index, skip, status);
  }
  // The run's reply, or '' when its last function is still pending and the run parks.
  function end(run, timedOut, park) {
    enter(run);
    if (parks(run, park)) return '';
    settlePending(run, timedOut);
    active = null; sink = null;
    return reply(run);
  }
  // The reply of the functions run so far, or '' when the last of them is still pending and the run
  // parks; the run goes on with its detached (`async: true`) functions, whose results, claims and logs
  // start afresh (what they add never reaches the token).
  function answer(run, timedOut, park) {
    enter(run);
    if (parks(run, park)) return '';
    settlePending(run, timedOut);
    const answered = reply(run);
    run.results = []; run.ops = []; run.bytes = 0; run.logs = []; run.refused = []; run.droppedLogs = 0;
    return answered;
  }
  // The outcome of an outbound call: {status, statusText, headers, data} or {error: {code, message, response?}}.
  function resolveCall(run, id, json) {
    enter(run);
    const c = run.calls.get(id);
    if (c === undefined) return;
    run.calls.delete(id);
    settleCall(c, json);
  }
  function settleCall(c, json) {
    const r = parse(json);
    if (r.error) {
      c.reject(axiosError(r.error.message, r.error.code, c.config, r.error.response ? toResponse(r.error.response, c.config) : undefined));
      return;
    }
    const response = toResponse(r, c.config);
    if (response.status >= 200 && response.status < 300) { c.resolve(response); return; }
    c.reject(axiosError('Request failed with status code ' + response.status,
                        response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST', c.config, response));
  }
  // A generation's settings: trigger, read-only env, the registered claims and the bound on added claims.
  function makeSettings(json) {
    const g = parse(json);
    return freeze({ trigger: String(g.trigger), env: deepFreezeValue(g.env || {}), registered: new Set(g.registered || []),
                    maxBytes: Number(g.maxClaimBytes) || 0 });
  }
  function deepFreezeValue(v) {
    if (v !== null && typeof v === 'object') { for (const k of Object.keys(v)) deepFreezeValue(v[k]); freeze(v); }
    return v;
  }

  // The intrinsics no property path from the global object leads to, by their spec names (ECMA-262
  // §6.1.7.4 and Intl): iterator, generator and async-function prototypes and the like.
  function hiddenIntrinsics() {
    const found = [];
    const add = function (make) { try { const v = make(); if (v !== null && v !== undefined) found.push(v); } catch (e) {} };
    const G = Object.getPrototypeOf(function* () {}), AF = Object.getPrototypeOf(async function () {});
    const AG = Object.getPrototypeOf(async function* () {});
    add(function () { return Object.getPrototypeOf([][Symbol.iterator]()); });              // %ArrayIteratorPrototype%
    add(function () { return Object.getPrototypeOf(''[Symbol.iterator]()); });              // %StringIteratorPrototype%
    add(function () { return Object.getPrototypeOf(new Map()[Symbol.iterator]()); });       // %MapIteratorPrototype%
    add(function () { return Object.getPrototypeOf(new Set()[Symbol.iterator]()); });       // %SetIteratorPrototype%
    add(function () { return Object.getPrototypeOf(/a/g[Symbol.matchAll]('')); });          // %RegExpStringIteratorPrototype%
    add(function () { return G; }); add(function () { return G.constructor; }); add(function () { return G.prototype; });
    add(function () { return AF; }); add(function () { return AF.constructor; });
    add(function () { return AG; }); add(function () { return AG.constructor; }); add(function () { return AG.prototype; });
    add(function () { return Object.getPrototypeOf(AG.prototype); });                       // %AsyncIteratorPrototype%
    add(function () { return Object.getOwnPropertyDescriptor(arguments, 'callee').get; });  // %ThrowTypeError%
    add(function () { return Object.getPrototypeOf(Int8Array); });                          // %TypedArray%
    add(function () { return Object.getPrototypeOf([].values().map(function (x) { return x; })); });  // %IteratorHelperPrototype%
    add(function () { return Object.getPrototypeOf(Iterator.from({ next: function () { return { done: true }; } })); });
    add(function () { return Object.getPrototypeOf(new Intl.Segmenter().segment('a')); });  // %SegmentsPrototype%
    add(function () { return Object.getPrototypeOf(new Intl.Segmenter().segment('a')[Symbol.iterator]()); });
    return found;
  }

  // RegExp's legacy statics (`RegExp.input`, `lastMatch`, `$1`…) hold the last match of whatever code ran
  // before: another client's data. They are removed; where the engine will not let them go, they are
  // cleared at the start of every VM entry (`clearRegExpStatics`).
  const LEGACY_REGEXP_STATICS = ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'",
                                 '$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9', 'multiline', '$*'];
  let regExpStaticsRemain = false;
  for (const name of LEGACY_REGEXP_STATICS) {
    if (!Reflect.deleteProperty(RegExp, name)) regExpStaticsRemain = true;
  }
  const CLEAR_MATCH = /(?:)/, regExpExec = RegExp.prototype.exec;
  function clearRegExpStatics() {
    if (!regExpStaticsRemain) return;
    regExpExec.call(CLEAR_MATCH, '');
    try { RegExp.input = ''; } catch (e) {}
  }

  // Freeze every intrinsic — those reachable from the global object and the hidden ones — and
  // everything reachable from them, then the global object itself.
  (function lockdown() {
    const seen = new Set(), stack = [global].concat(hiddenIntrinsics(), lodash === undefined ? [] : [lodash]);
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

  return freeze({ start: start, advance: advance, fail: fail, answer: answer, end: end, resolveCall: resolveCall,
                 makeSettings: makeSettings });
})
