import Logging
import JSONCore
import Pipeline
import Testing

/// GenAuth's documented module list (pipelines.md): lodash from Debian's libjs-lodash, frozen; the
/// `authing` management SDK rejects every call; anything else `require` names is refused at load.
@Suite struct GenAuthModulesTests {
    let engine = TestWorker.engine(workers: 1)

    /// A function as GenAuth users write it, unchanged.
    static let ported = Fn(name: "groups", source: """
        const _ = require('lodash');
        async function pipe(user, context, callback) {
          const groups = _.uniq(_.map(_.get(user, 'customData.groups', []), _.toLower));
          user.addIdToken('groups', _.sortBy(groups));
          user.addIdToken('dept', _.get(user, ['customData', 'dept'], 'none'));
          try { await authing.users.find({ id: user.id }); } catch (e) { user.addIdToken('sdk', e.message); }
          callback(null, user, context);
        }
        """)

    @Test func aPortedFunctionUsingLodashRuns() async throws {
        defer { engine.shutdown() }
        let user: JSONValue = ["id": "u1", "customData": ["groups": ["Ops", "ops", "Dev"], "dept": "R&D"]]
        let r = try await engine.run([Self.ported], trigger: .preIDToken, user: user, context: ["accessTokenTarget": "user"])
        #expect(r.outcome == .proceed && r.functions.map(\.outcome) == [.ok], "\(r.logs)")
        #expect(r.claims == ["groups": ["dev", "ops"], "dept": "R&D", "sdk": "the GenAuth management SDK is not available here"])
    }

    @Test func lodashIsFrozenAndSharedByNoOne() async throws {
        defer { engine.shutdown() }
        let tamper = Fn(name: "tamper", source: """
            function pipe(user, context, callback) {
              const _ = require('lodash');
              const changed = Reflect.set(_, 'get', function () { return 'hooked'; }) || Reflect.defineProperty(_, 'extra', { value: 1 });
              try { _.mixin({ hooked: function () { return 1; } }); } catch (e) {}
              context.addAccessToken('changed', changed || typeof _.hooked === 'function' || !Object.isFrozen(_));
              callback(null, user, context);
            }
            """)
        for _ in 0..<2 {
            let r = try await engine.run([tamper])
            #expect(r.claims == ["changed": false], "\(r.logs)")
        }
    }

    @Test(arguments: [
        ("const fs = require('fs');", ["no such module"]),
        ("const m = require(name);", ["string literal"]),
        ("// const fs = require('fs');\nconst q = require('querystring');", []),
        ("/* require('child_process') */ const s = 'require(\"net\")'; const t = `require('os')`;", []),
        ("const x = a.require('fs'); const u = require( \"./utils\" ); const l = require('lodash');", []),
        ("const r = /require\\('fs'\\)/; const a = require('axios');", []),
    ])
    func requiresAreCheckedBeforeAnythingRuns(source: String, expected: [String]) {
        let problems = GenAuthModules.problems(in: source)
        #expect(problems.count == expected.count, "\(problems)")
        for (p, e) in zip(problems, expected) { #expect(p.contains(e), "\(p)") }
    }

    @Test func anUnknownModuleFailsTheLoad() async throws {
        defer { engine.shutdown() }
        await #expect(throws: PipelineLoadError.self) {
            _ = try await engine.prepare([Fn(name: "fs", source: "const fs = require('fs'); function pipe(u, c, cb) { cb(null, u, c); }").spec],
                                         trigger: .preAccessToken)
        }
    }
}

/// The worker's bootstrap (a resource, `bootstrap.js`) is valid JavaScript for the engine that runs it.
@Suite struct BootstrapResourceTests {
    @Test func bootstrapParses() throws {
        #expect(Bootstrap.source.hasPrefix("(function (hostFetch, lodash) {"))
        try JSRuntime().checkSyntax(Bootstrap.source, sourceURL: "bootstrap.js")
        #expect(throws: JSException.self) { try JSRuntime().checkSyntax(Bootstrap.source + " }", sourceURL: "bootstrap.js") }
    }
}

/// What an `async: true` function logs, after its request was answered, carries that request's id.
@Suite struct AsyncLogTests {
    @Test func asyncLogLinesKeepTheRequestID() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let sink = LogCapture()
        var logger = sink.logger(label: "request")
        logger[metadataKey: "request_id"] = "req-42"
        let notifier = Fn(name: "notify", source: "async function pipe(u, c, cb) { log('notified'); cb(null, u, c); }", async: true)
        let pipeline = try await engine.prepare([notifier.spec], trigger: .preAccessToken)
        _ = await engine.run(pipeline, user: .null, context: ["accessTokenTarget": "programmaticAccount"], logger: logger)
        for _ in 0..<200 where engine.backgroundRunsInProgress > 0 { try await Task.sleep(for: .milliseconds(10)) }
        let line = sink.lines.first { $0.message == "pipeline log" }
        #expect(line?.metadata["request_id"] == "req-42" && line?.metadata["log"] == "notified", "\(sink.lines)")
    }
}

/// The wire bodies have one encoder and one decoder: what one side writes, the other reads back.
@Suite struct WireBodyTests {
    @Test func loadRequestAndReplyRoundTrip() throws {
        let request = Wire.LoadRequest(generation: 7, settings: ["trigger": "pre_id_token"], functions: [.init(name: "a", source: "function pipe(){}")])
        let back = try #require(Wire.LoadRequest(json: request.json))
        #expect(back.generation == 7 && back.settings == ["trigger": "pre_id_token"] && back.functions.map(\.name) == ["a"])
        for reply in [Wire.LoadReply(errors: []), Wire.LoadReply(errors: ["a: SyntaxError"])] { #expect(Wire.LoadReply(json: reply.json) == reply) }
        #expect(Wire.LoadReply(json: Array(#"{"ok":false}"#.utf8))?.errors == ["load failed"], "a refusal always says why")
        #expect(Wire.LoadReply(json: Array("[]".utf8)) == nil)
    }

    @Test func aRunReplyAsTheBootstrapWritesIt() throws {
        let text = #"{"results":[{"i":0,"o":"ok"},{"i":1,"o":"denied","m":"no"}],"out":{"ops":[["add","k",1],["remove","picture"],["bad"]],"logs":[["f","hi"]],"refused":["iss"],"droppedLogs":2}}"#
        let reply = try #require(Wire.RunReply(json: Array(text.utf8)))
        #expect(reply.results.map(\.index) == [0, 1] && reply.results[1].message == "no")
        #expect(reply.operations == [.add("k", 1), .remove("picture")] && reply.refused == ["iss"] && reply.droppedLogs == 2)
        #expect(Wire.RunReply(json: Array(#"{"error":"bad frame"}"#.utf8))?.error == "bad frame")
    }
}
