import Foundation
import JSONCore
import Pipeline
import Testing

/// GenAuth's `axios` in pipelines, against a real HTTP server on loopback (Tests/e2e/webhook_sink.py).
@Suite(.serialized) struct OutboundHTTPTests {
    static let user: JSONValue = ["id": "u-1", "username": "ada", "email": "ada@example.com", "customData": ["dept": "R&D"]]
    static let context: JSONObject = ["clientId": "web-app", "appName": "Web app", "accessTokenTarget": "user"]

    func policy(_ sink: WebhookSink, maxResponseBytes: Int = OutboundPolicy.defaultMaxResponseBytes) -> OutboundPolicy {
        OutboundPolicy(allow: [OutboundPolicy.entry("127.0.0.1:\(sink.port)")!], maxResponseBytes: maxResponseBytes)
    }

    /// The notifier templates GenAuth publishes (DingTalk, Lark, Slack), as users write them.
    static let notifiers: [(name: String, source: String, expect: String)] = [
        ("dingtalk", """
         async function pipe(user, context, callback) {
           await axios.post(env.WEBHOOK + '/hooks/dingtalk', {
             msgtype: 'markdown',
             markdown: { title: 'New sign-in', text: '### ' + user.username + ' signed in to ' + context.appName },
           });
           callback(null, user, context);
         }
         """, #""msgtype":"markdown""#),
        ("lark", """
         async function pipe(user, context, callback) {
           const res = await axios({ url: env.WEBHOOK + '/hooks/lark', method: 'post',
                                     data: { msg_type: 'text', content: { text: user.username + ' signed in' } } });
           user.addIdToken('notified', res.data.ok === true);
           callback(null, user, context);
         }
         """, #""msg_type":"text""#),
        ("slack", """
         async function pipe(user, context, callback) {
           try {
             await axios.post(env.WEBHOOK + '/hooks/slack', JSON.stringify({ text: ':key: ' + user.email + ' signed in to ' + context.appName }),
                              { headers: { 'Content-Type': 'application/json' } });
           } catch (e) { log('slack failed', e.code); }
           callback(null, user, context);
         }
         """, #""text":":key: ada@example.com signed in to Web app""#),
    ]

    @Test(arguments: [false, true]) func publishedNotifiersDeliverTheirBodies(async: Bool) async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        let fns = Self.notifiers.map { Fn(name: $0.name, source: $0.source, async: async) }
        let pipeline = try await engine.prepare(fns.map(\.spec), trigger: .preIDToken, env: ["WEBHOOK": .string(sink.base)],
                                                outbound: policy(sink))
        let report = async ? await engine.runBackground(pipeline, user: Self.user, context: Self.context)
                           : await engine.run(pipeline, user: Self.user, context: Self.context)
        #expect(report.outcome == .proceed, "\(report.outcome)")
        #expect(report.httpCalls.map(\.status) == [200, 200, 200])
        #expect(report.httpCalls.allSatisfy { $0.url.hasPrefix("\(sink.base)/hooks/") && $0.method == "POST" })
        let received = try await sink.received()
        #expect(received.count == 3)
        for (n, expected) in Self.notifiers.enumerated() {
            let hit = received.first { $0["path"]?.stringValue == "/hooks/\(expected.name)" }
            #expect(hit?["body"]?.stringValue?.contains(expected.expect) == true, "\(expected.name): \(String(describing: hit))")
            #expect(hit?["headers"]?.objectValue?["content-type"]?.stringValue == "application/json", "\(n)")
        }
        if !async { #expect(report.claims == ["notified": true]) }
    }

    /// Each failure reaches the function as axios would report it.
    @Test(arguments: [
        ("disallowed host", "axios.get('http://example.org/')", "ERR_HOST_NOT_ALLOWED"),
        ("timeout", "axios.get(B + '/slow?ms=3000', { timeout: 200 })", "ECONNABORTED"),
        ("500 answer", "axios.get(B + '/status/500')", "ERR_BAD_RESPONSE 500 status 500"),
        ("404 answer", "axios.get(B + '/status/404')", "ERR_BAD_REQUEST 404 status 404"),
        ("connection refused", "axios.get(REFUSED + '/x')", "ECONNREFUSED"),
        ("oversized response", "axios.get(B + '/big?bytes=5000')", "ERR_BAD_RESPONSE"),
        ("redirect not followed", "axios.get(B + '/redirect?to=' + encodeURIComponent(B + '/json'))", "ERR_BAD_REQUEST 302"),
        ("user info", "axios.get('http://user@' + B.slice(7) + '/json')", "ERR_INVALID_URL"),
        ("hex IP spelling", "axios.get('http://0x7f.1:' + PORT + '/json')", "ERR_HOST_NOT_ALLOWED"),
        ("IPv6 loopback", "axios.get('http://[::1]:' + PORT + '/json')", "ERR_HOST_NOT_ALLOWED"),
        ("localhost name", "axios.get('http://localhost:' + PORT + '/json')", "ERR_HOST_NOT_ALLOWED"),
        ("DNS alias of loopback", "axios.get('http://127.0.0.1.nip.io:' + PORT + '/json')", "ERR_HOST_NOT_ALLOWED"),
        ("backslash trick", "axios.get(B + '\\\\@example.org/')", "ERR_INVALID_URL"),
        ("fragment trick", "axios.get('http://example.org#@' + B.slice(7))", "ERR_HOST_NOT_ALLOWED"),
        ("other port", "axios.get('http://127.0.0.1:' + REFUSED_PORT + '/x')", "ERR_HOST_NOT_ALLOWED"),
        ("file scheme", "axios.get('file:///etc/passwd')", "ERR_INVALID_URL"),
    ])
    func failuresReachTheFunctionAsAxiosErrors(name: String, call: String, expected: String) async throws {
        let sink = try await WebhookSink.start()
        let refused = unusedLoopbackPort()
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        var policy = policy(sink, maxResponseBytes: 1000)
        if name == "connection refused" { policy.allow.append(OutboundPolicy.entry("127.0.0.1:\(refused)")!) }
        let source = """
            const B = env.B, PORT = env.PORT, REFUSED = 'http://127.0.0.1:' + env.REFUSED_PORT, REFUSED_PORT = env.REFUSED_PORT;
            async function pipe(user, context, callback) {
              try { const r = await \(call); context.addToken('outcome', 'ok ' + r.status); }
              catch (e) {
                const parts = [e.code];
                if (e.response) parts.push(String(e.response.status), e.response.data && e.response.data.error || '');
                context.addToken('outcome', parts.join(' ').trim());
                context.addToken('axios', e.isAxiosError === true && e instanceof Error);
              }
              callback(null, user, context);
            }
            """
        let r = try await engine.run([Fn(name: "call", source: source, timeoutMS: 2000)], context: ["clientId": "billing"],
                                     env: ["B": .string(sink.base), "PORT": .string(String(sink.port)), "REFUSED_PORT": .string(String(refused))],
                                     outbound: policy)
        #expect(r.outcome == .proceed, "\(name): \(r.outcome)")
        #expect(r.claims["outcome"]?.stringValue?.hasPrefix(expected) == true, "\(name): \(r.claims)")
        #expect(r.claims["axios"] == true, "\(name): \(r.claims)")
        #expect(try await sink.received().isEmpty, "\(name): nothing reached a hook")
    }

    @Test func responsesAreAxiosShaped() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        let r = try await engine.run([Fn(name: "risk", source: """
            async function pipe(user, context, callback) {
              const r = await axios.get(env.B + '/json', { params: { ip: context.request.ip, n: 1 } });
              context.addToken('risk', { status: r.status, text: r.statusText, allowed: r.data.allowed, sink: r.headers['x-sink'] });
              callback(null, user, context);
            }
            """)], context: ["clientId": "billing", "request": ["ip": "203.0.113.7"]], env: ["B": .string(sink.base)], outbound: policy(sink))
        #expect(r.claims["risk"] == ["status": 200, "text": "OK", "allowed": true, "sink": "yes"], "\(r.outcome) \(r.claims)")
        #expect(r.httpCalls.first?.url == "\(sink.base)/json", "the query never reaches the report")
    }

    @Test func requestsPerCallAreBounded() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        var p = policy(sink)
        p.maxRequestsPerCall = 3
        let r = try await engine.run([Fn(name: "many", source: """
            async function pipe(user, context, callback) {
              const codes = [];
              for (let i = 0; i < 5; i++) { try { await axios.get(env.B + '/json'); codes.push('ok'); } catch (e) { codes.push(e.code); } }
              context.addToken('codes', codes);
              callback(null, user, context);
            }
            """)], context: ["clientId": "billing"], env: ["B": .string(sink.base)], outbound: p)
        #expect(r.claims["codes"] == ["ok", "ok", "ok", "ERR_TOO_MANY_REQUESTS", "ERR_TOO_MANY_REQUESTS"], "\(r.outcome)")
    }

    /// The call never outlives its function: with no axios timeout, the function's own deadline applies.
    @Test func aCallEndsWithItsFunctionsTimeout() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        let start = Date()
        let r = try await engine.run([Fn(name: "slow", source: """
            async function pipe(user, context, callback) {
              try { await axios.get(env.B + '/slow?ms=5000'); } catch (e) { context.addToken('code', e.code); }
              callback(null, user, context);
            }
            """, timeoutMS: 600)], context: ["clientId": "billing"], env: ["B": .string(sink.base)], outbound: policy(sink))
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(r.claims["code"] == "ECONNABORTED", "\(r.outcome)")
    }

    /// A function awaiting a slow endpoint delays only its own request: with one worker, other runs go on.
    @Test func aFunctionWaitingOnTheNetworkHoldsUpNoOtherRequest() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let slow = try await engine.prepare([Fn(name: "slow", source: """
            async function pipe(user, context, callback) { await axios.get(env.B + '/slow?ms=1500'); context.addToken('slow', true); callback(null, user, context); }
            """).spec], trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let ok = try await engine.prepare([ContainmentTests.ok.spec], trigger: .preAccessToken)
        _ = await engine.run(ok, user: .null, context: [:])
        let pids = engine.workerProcessIDs()
        async let waiting = engine.run(slow, user: .null, context: [:])
        try await Task.sleep(for: .milliseconds(100))
        let start = Date()
        for _ in 0..<50 { #expect(await engine.run(ok, user: .null, context: [:]).claims == ["ok": true]) }
        #expect(Date().timeIntervalSince(start) < 1, "50 runs while another awaits the network on the same worker")
        #expect(await waiting.claims == ["slow": true])
        #expect(engine.workerProcessIDs() == pids, "served by the one worker, no spare was needed")
    }

    /// Many runs calling out at once on one worker: callers wait for room in the pool while runs park
    /// (parking frees room from the reply reader, which must not re-enter the worker's lock).
    @Test func manyConcurrentRunsCallingOutOnOneWorker() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([Fn(name: "notify", source: """
            async function pipe(user, context, callback) { await axios.post(env.B + '/hooks/load?ms=50', { n: context.n }); context.addToken('n', context.n); callback(null, user, context); }
            """).spec], trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let failures = await withTaskGroup(of: String?.self) { group in
            for n in 0..<150 {
                group.addTask {
                    let r = await engine.run(pipeline, user: .null, context: ["n": .int(Int64(n))])
                    return r.claims == ["n": .int(Int64(n))] ? nil : "\(r.outcome) \(r.httpCalls.map { "\($0.status ?? 0) \($0.error ?? "")" })"
                }
            }
            return await group.reduce(into: [String]()) { if let f = $1 { $0.append(f) } }
        }
        #expect(failures.isEmpty, "\(failures.count) of 150: \(failures.prefix(3))")
    }

    /// `async: true` functions ride in the run's own frame: the token's reply does not wait for them,
    /// what they add never reaches it, and they still deliver afterwards.
    @Test func asyncNotifiersRunAfterTheReply() async throws {
        let sink = try await WebhookSink.start()
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([
            Fn(name: "notify", source: """
               async function pipe(user, context, callback) {
                 await axios.get(env.B + '/slow?ms=400');
                 await axios.post(env.B + '/hooks/audit', { client: context.clientId, tier: context.tier });
                 context.addAccessToken('late', true);
                 callback(null, user, context);
               }
               """, async: true),
            Fn(name: "tier", source: "function pipe(u, c, cb) { c.tier = 'gold'; c.addAccessToken('tier', 'gold'); cb(null, u, c); }"),
        ].map(\.spec), trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let clock = ContinuousClock()
        let start = clock.now
        let r = await engine.run(pipeline, user: .null, context: ["clientId": "billing"])
        #expect(clock.now - start < .milliseconds(300), "the reply waited for the notifier")
        #expect(r.outcome == .proceed, "\(r.outcome)")
        #expect(r.claims == ["tier": "gold"])
        #expect(r.functions.map(\.name) == ["tier"])
        var hit: JSONObject?
        for _ in 0..<60 where hit == nil {
            try await Task.sleep(for: .milliseconds(50))
            hit = try await sink.received().first { $0["path"]?.stringValue == "/hooks/audit" }
        }
        #expect(hit?["body"]?.stringValue == #"{"client":"billing","tier":"gold"}"#, "\(String(describing: hit))")
        // A run denied by a synchronous function starts no async function.
        let denied = try await engine.prepare([
            Fn(name: "notify", source: "async function pipe(u, c, cb) { await axios.post(env.B + '/hooks/denied', {}); cb(null, u, c); }",
               async: true),
            Fn(name: "deny", source: "function pipe(u, c, cb) { cb(new Error('no')); }"),
        ].map(\.spec), trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        #expect(await engine.run(denied, user: .null, context: [:]).outcome == .denied(function: "deny", message: "no"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await sink.received().allSatisfy { $0["path"]?.stringValue != "/hooks/denied" })
    }

    /// The outcome of a detached function is held back in the worker to ride along with the next
    /// replies, but never lost: with no traffic behind it, it is reported within milliseconds.
    @Test func asyncOutcomesAreReportedWhenTheWorkerGoesIdle() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([
            Fn(name: "audit", source: "async function pipe(u, c, cb) { log('audited'); cb(null, u, c); }", async: true).spec,
        ], trigger: .preAccessToken)
        #expect(await engine.run(pipeline, user: .null, context: [:]).outcome == .proceed)
        var left = engine.backgroundRunsInProgress
        for _ in 0..<100 where left != 0 {
            try await Task.sleep(for: .milliseconds(5))
            left = engine.backgroundRunsInProgress
        }
        #expect(left == 0, "the async run's outcome never came back")
    }

    /// The engine can go away while a call is in flight: the call's completion then drops the last
    /// reference to the outbound client on the client's own thread, which must not free itself under
    /// its own feet (it did: a use-after-free that crashed the process a moment later).
    @Test func theOutboundClientMayBeReleasedByItsOwnCompletion() async throws {
        let sink = try await WebhookSink.start()
        do {
            let engine = TestWorker.engine(workers: 1)
            let pipeline = try await engine.prepare([Self.slowCall.spec], trigger: .preAccessToken, env: ["B": .string(sink.base)],
                                                    outbound: policy(sink))
            let run = Task { await engine.run(pipeline, user: .null, context: ["ms": 400]) }
            try await Task.sleep(for: .milliseconds(150))
            engine.shutdown()
            _ = await run.value
        }
        // The call ends about now, on the client's thread, with nothing else holding the client.
        try await Task.sleep(for: .milliseconds(800))
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([Self.slowCall.spec], trigger: .preAccessToken, env: ["B": .string(sink.base)],
                                                outbound: policy(sink))
        #expect(await engine.run(pipeline, user: .null, context: ["ms": 0]).claims == ["status": 200])
    }

    /// Calls `/slow?ms=<context.ms>` and adds the status, or the axios error code, as a claim.
    static let slowCall = Fn(name: "call", source: """
        async function pipe(user, context, callback) {
          try { const r = await axios.get(env.B + '/slow?ms=' + context.ms); context.addAccessToken('status', r.status); }
          catch (e) { context.addAccessToken('error', e.code); }
          callback(null, user, context);
        }
        """)

    /// One worker; outbound HTTP with `active` transfer slots and `queued` waiting places.
    static func limitedEngine(active: Int, queued: Int) -> PipelineEngine {
        TestWorker.engine(workers: 1) { config in
            config.maxOutboundActive = active
            config.maxOutboundQueued = queued
        }
    }

    /// Past its transfers and waiting places a call fails at once with `ERR_OVERLOADED`; while outbound
    /// HTTP is saturated the worker refuses calls itself (no round trip: no call record), and once room
    /// is free again calls go out.
    @Test func callsPastTheOutboundCapacityAreRefusedAtOnce() async throws {
        let sink = try await WebhookSink.start()
        let engine = Self.limitedEngine(active: 1, queued: 0)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([Self.slowCall.spec], trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let holding = Task { await engine.run(pipeline, user: .null, context: ["ms": 1500]) }
        try await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        let start = clock.now
        let refused = await engine.run(pipeline, user: .null, context: ["ms": 0])
        #expect(clock.now - start < .milliseconds(250))
        #expect(refused.claims == ["error": "ERR_OVERLOADED"])
        #expect(refused.httpCalls.isEmpty, "refused in the worker: \(refused.httpCalls)")
        let held = await holding.value
        #expect(held.claims == ["status": 200])
        let after = await engine.run(pipeline, user: .null, context: ["ms": 0])
        #expect(after.claims == ["status": 200])
        #expect(after.httpCalls.map(\.status) == [200])
    }

    /// A notification never queues behind the transfer limit: with every transfer slot taken, an
    /// `async: true` function's call is refused at once while a synchronous function's call waits for a slot.
    @Test func asyncCallsNeverQueue() async throws {
        let sink = try await WebhookSink.start()
        let engine = Self.limitedEngine(active: 1, queued: 4)
        defer { engine.shutdown() }
        let sync = try await engine.prepare([Self.slowCall.spec], trigger: .preAccessToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let notifying = try await engine.prepare([Fn(name: "notify", source: """
            async function pipe(user, context, callback) { await axios.post(env.B + '/hooks/' + context.n, {}); callback(null, user, context); }
            """, async: true).spec], trigger: .preIDToken, env: ["B": .string(sink.base)], outbound: policy(sink))
        let holding = Task { await engine.run(sync, user: .null, context: ["ms": 1000]) }
        try await Task.sleep(for: .milliseconds(300))
        let waiting = Task { await engine.run(sync, user: .null, context: ["ms": 0]) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await engine.run(notifying, user: .null, context: ["n": "refused"]).outcome == .proceed)
        #expect(await holding.value.claims == ["status": 200])
        #expect(await waiting.value.claims == ["status": 200], "the synchronous call waited for the slot")
        #expect(await engine.run(notifying, user: .null, context: ["n": "delivered"]).outcome == .proceed)
        var paths: [String] = []
        for _ in 0..<60 where !paths.contains("/hooks/delivered") {
            try await Task.sleep(for: .milliseconds(50))
            paths = try await sink.received().compactMap { $0["path"]?.stringValue }
        }
        #expect(paths == ["/hooks/delivered"], "the notifier's call was refused while the slot was taken, made once it was free")
    }

    @Test func addCustomDataReachesTheFunctionsThatFollow() async throws {
        let engine = TestWorker.engine()
        defer { engine.shutdown() }
        let r = try await engine.run([
            Fn(name: "enrich", source: "function pipe(user, context, cb) { user.addCustomData('tier', 'gold'); user.addCustomData('__proto__', 1); cb(null, user, context); }"),
            Fn(name: "use", source: """
               function pipe(user, context, cb) {
                 user.addIdToken('tier', user.customData.tier);
                 user.addIdToken('dept', user.customData.dept);
                 cb(null, user, context);
               }
               """),
        ], trigger: .preIDToken, user: Self.user, context: Self.context)
        #expect(r.outcome == .proceed, "\(r.outcome)")
        #expect(r.claims == ["tier": "gold", "dept": "R&D"], "customData is never a claim by itself")
    }
}
