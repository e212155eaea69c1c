import Claims
import Foundation
import JSONCore
import Pipeline
import Testing

/// The GenAuth pipeline contract (shared/contract/pipelines.md), with real JavaScript.
@Suite struct PipelineContractTests {
    let engine = TestWorker.engine()

    @Test func m2mAddsClaimsThroughContextWithNullUser() async throws {
        let r = try await engine.run([Fn(name: "m2m", source: """
            async function pipe(user, context, callback) {
              if (user !== null) throw new Error('user should be null');
              context.addAccessToken('tenant', context.clientId + '-t');
              context.addToken('nested', {a: [1, 2, {b: null}], ok: true});
              callback(null, user, context);
            }
            """)])
        #expect(r.outcome == .proceed)
        #expect(r.claims == ["tenant": "billing-t", "nested": ["a": [1, 2, ["b": nil]], "ok": true]])
        #expect(r.functions.map(\.outcome) == [.ok])
    }

    @Test func userMethodsAndTriggerScopedMethods() async throws {
        let user: JSONValue = ["id": "u1", "customData": ["dept": "R&D"], "photo": "p"]
        let r = try await engine.run([Fn(name: "id", source: """
            async function pipe(user, context, callback) {
              user.addIdToken('department', user.customData.dept);
              user.setIdTokenField('legacy', 1);
              user.addAccessToken('ignored', 1);   // not valid in pre_id_token
              user.removeIdToken('picture');
              callback(null, user, context);
            }
            """)], trigger: .preIDToken, user: user, context: ["accessTokenTarget": "user"])
        #expect(r.outcome == .proceed)
        #expect(r.extensions.operations == [.add("department", "R&D"), .add("legacy", 1), .remove("picture")])
        #expect(r.logs.contains { $0.message.contains("addAccessToken is not valid in pre_id_token") })
    }

    @Test func callbackWithErrorDeniesWithItsMessage() async throws {
        let r = try await engine.run([Fn(name: "gate", source: """
            async function pipe(user, context, callback) { callback(new Error('tenant suspended')); }
            """), Fn(name: "never", source: "function pipe(u, c, cb) { c.addToken('x', 1); cb(null, u, c) }")])
        #expect(r.outcome == .denied(function: "gate", message: "tenant suspended"))
        #expect(r.claims.isEmpty)
    }

    @Test func legacyTwoParameterFormAndChainedContext() async throws {
        let r = try await engine.run([
            Fn(name: "legacy", source: """
                async function pipe(context, callback) {
                  context.addToken('legacy', true);
                  context.note = 'from-legacy';
                  callback(null, context);
                }
                """),
            Fn(name: "next", source: """
                function pipe(user, context, callback) {
                  context.addToken('seen', context.note);
                  callback(null);
                }
                """),
        ])
        #expect(r.outcome == .proceed)
        #expect(r.claims == ["legacy": true, "seen": "from-legacy"])
    }

    @Test func onlyTheFirstCallbackCountsAndCodeAfterItRuns() async throws {
        let r = try await engine.run([Fn(name: "twice", source: """
            async function pipe(user, context, callback) {
              callback(null, user, context);
              callback(new Error('too late'));
              await null;
              log('after callback', 1, {k: 'v'});
            }
            """)])
        #expect(r.outcome == .proceed)
        #expect(r.logs == [PipelineLogLine(function: "twice", message: #"after callback 1 {"k":"v"}"#)])
    }

    @Test func awaitsAndReturnedPromises() async throws {
        let r = try await engine.run([Fn(name: "awaits", source: """
            async function pipe(user, context, callback) {
              let n = 0;
              for (let i = 0; i < 1000; i++) n += await Promise.resolve(1);
              return new Promise(resolve => { context.addToken('n', n); callback(null, user, context); resolve(); });
            }
            """)])
        #expect(r.claims == ["n": 1000])
    }

    @Test func registeredClaimsAreNeverChanged() async throws {
        let r = try await engine.run([Fn(name: "evil", source: """
            function pipe(user, context, callback) {
              for (const k of ['iss','sub','aud','exp','iat','nbf','jti','auth_time','nonce','acr','amr','azp','at_hash',
                               'c_hash','client_id','scope','cnf','typ','act','txn','req_wl','rctx','tctx']) {
                context.addToken(k, 'x'); context.removeTokenField(k);
              }
              context.addToken('fine', 'yes');
              callback(null, user, context);
            }
            """)])
        #expect(r.outcome == .proceed)
        #expect(r.claims == ["fine": "yes"])
        #expect(Set(r.refusedClaims) == RegisteredClaims.names)
    }

    @Test func throwingAndRejectingFailClosed() async throws {
        let threw = try await engine.run([Fn(name: "throws", source: "function pipe(u, c, cb) { null.x; }")])
        guard case .failed(function: "throws", let reason) = threw.outcome else { Issue.record("\(threw.outcome)"); return }
        #expect(reason.contains("TypeError"))

        let rejected = try await engine.run([Fn(name: "rejects", source: "async function pipe(u, c, cb) { await 1; throw new Error('boom'); }")])
        guard case .failed(function: "rejects", let why) = rejected.outcome else { Issue.record("\(rejected.outcome)"); return }
        #expect(why.contains("boom"))
    }

    @Test func failOpenSkipsTheFunctionAndItsClaims() async throws {
        let r = try await engine.run([
            Fn(name: "half", source: """
                function pipe(u, c, cb) { c.addToken('partial', 1); c.mutated = true; throw new Error('bad'); }
                """, terminateOnTimeout: false),
            Fn(name: "after", source: "function pipe(u, c, cb) { c.addToken('after', c.mutated === undefined); cb(null, u, c); }"),
        ])
        #expect(r.outcome == .proceed)
        #expect(r.claims == ["after": true], "the skipped function's claims and changes are dropped")
        #expect(r.functions.map(\.outcome.label) == ["skipped", "ok"])
    }

    @Test func globalsAndRequireAndEnv() async throws {
        let r = try await engine.run([Fn(name: "globals", source: """
            const utils = require('./utils');
            const qs = require('querystring');
            async function pipe(user, context, callback) {
              context.addToken('inRange', utils.ipRangeCheck('10.0.0.7', ['10.0.0.1', '10.0.0.9']));
              context.addToken('outRange', utils.ipRangeCheck('10.0.1.7', ['10.0.0.1', '10.0.0.9']));
              context.addToken('v6', utils.ipRangeCheck('2001:db8::5', ['2001:db8::1', '2001:db8::ff']));
              context.addToken('qs', qs.parse('a=1&b=x%20y&a=2'));
              context.addToken('domain', env.ALLOWED_DOMAIN);
              let evalBlocked = false;
              try { eval('1'); } catch (e) { evalBlocked = true; }
              let fnBlocked = false;
              try { new Function('return 1')(); } catch (e) { fnBlocked = true; }
              // require('fs') never gets this far: the load refuses it (GenAuthModulesTests).
              context.addToken('blocked', [evalBlocked, fnBlocked, typeof process, typeof fetch, typeof setTimeout]);
              console.log('hello', 'world');
              callback(null, user, context);
            }
            """)], env: ["ALLOWED_DOMAIN": "example.com"])
        #expect(r.outcome == .proceed)
        let c = r.claims
        #expect(c["inRange"] == true)
        #expect(c["outRange"] == false)
        #expect(c["v6"] == true)
        #expect(c["qs"] == ["a": ["1", "2"], "b": "x y"])
        #expect(c["domain"] == "example.com")
        #expect(c["blocked"] == [true, true, "undefined", "undefined", "undefined"])
        #expect(r.logs.contains(PipelineLogLine(function: "globals", message: "hello world")))
    }

    @Test func noStateLeaksBetweenCalls() async throws {
        let fns = [Fn(name: "leaky", source: """
            let counter = 0;
            async function pipe(user, context, callback) {
              counter++;
              context.addToken('counter', counter);
              context.addToken('seen', [typeof globalThis.stash, typeof leaked, Object.prototype.polluted === undefined,
                                        Array.prototype.evil === undefined]);
              try { globalThis.stash = context.clientId; } catch (e) {}
              try { leaked = 1; } catch (e) {}
              try { Object.prototype.polluted = 1; } catch (e) {}
              try { Array.prototype.evil = 1; } catch (e) {}
              callback(null, user, context);
            }
            """)]
        let pipeline = try await engine.prepare(fns.map(\.spec), trigger: .preAccessToken)
        for client in ["a", "b", "c", "d"] {
            let r = await engine.run(pipeline, user: .null, context: ["clientId": .string(client)])
            #expect(r.claims == ["counter": 1, "seen": ["undefined", "undefined", true, true]])
        }
    }

    @Test func claimsAreBoundedTo64KiB() async throws {
        let r = try await engine.run([Fn(name: "big", source: """
            function pipe(u, c, cb) { for (let i = 0; i < 100; i++) c.addToken('k' + i, 'x'.repeat(1000)); cb(null, u, c); }
            """)])
        guard case .failed(function: "big", let reason) = r.outcome else { Issue.record("\(r.outcome)"); return }
        #expect(reason.contains("64 KiB"))
        #expect(r.claims.isEmpty)
    }

    @Test func asyncFunctionsNeverChangeTheToken() async throws {
        let r = try await engine.run([
            Fn(name: "audit", source: "async function pipe(u, c, cb) { c.addToken('audit', 1); cb(new Error('ignored')); }", async: true),
            Fn(name: "sync", source: "function pipe(u, c, cb) { c.addToken('sync', 1); cb(null, u, c); }"),
            Fn(name: "off", source: "function pipe(u, c, cb) { c.addToken('off', 1); cb(null, u, c); }", enabled: false),
        ])
        #expect(r.outcome == .proceed)
        #expect(r.claims == ["sync": 1])
        #expect(r.functions.map(\.name) == ["sync"])
    }

    @Test func compileErrorsFailTheLoad() async throws {
        await #expect(throws: PipelineLoadError.self) {
            _ = try await engine.prepare([Fn(name: "syntax", source: "function pipe(u, c, cb) { if ( }").spec], trigger: .preIDToken)
        }
        do {
            _ = try await engine.prepare([Fn(name: "nopipe", source: "function other() {}").spec], trigger: .preIDToken)
            Issue.record("a file without pipe must not load")
        } catch {
            #expect(error.problems.joined().contains("does not define function pipe"))
        }
    }
}
