import JSONCore
import Pipeline
import Testing

/// A run of one client can neither observe nor alter a later run of another client on the same worker
/// through the language's own objects: every intrinsic, by its spec name, is frozen (not only what is
/// reachable from the global object), and RegExp's legacy statics carry nothing from run to run.
@Suite struct IntrinsicsTests {
    /// The intrinsics not reachable by walking the global object's properties.
    static let intrinsics = """
        const G = Object.getPrototypeOf(function* () {}), AF = Object.getPrototypeOf(async function () {}),
              AG = Object.getPrototypeOf(async function* () {}), AIt = Object.getPrototypeOf([][Symbol.iterator]());
        const found = {
          ArrayIteratorPrototype: AIt,
          StringIteratorPrototype: Object.getPrototypeOf(''[Symbol.iterator]()),
          MapIteratorPrototype: Object.getPrototypeOf(new Map()[Symbol.iterator]()),
          SetIteratorPrototype: Object.getPrototypeOf(new Set()[Symbol.iterator]()),
          RegExpStringIteratorPrototype: Object.getPrototypeOf(/a/g[Symbol.matchAll]('')),
          IteratorPrototype: Object.getPrototypeOf(AIt),
          GeneratorFunction: G.constructor, 'GeneratorFunction.prototype': G, GeneratorPrototype: G.prototype,
          AsyncFunction: AF.constructor, 'AsyncFunction.prototype': AF,
          AsyncGeneratorFunction: AG.constructor, 'AsyncGeneratorFunction.prototype': AG, AsyncGeneratorPrototype: AG.prototype,
          AsyncIteratorPrototype: Object.getPrototypeOf(AG.prototype),
          ThrowTypeError: (function () { 'use strict'; return Object.getOwnPropertyDescriptor(arguments, 'callee').get; })(),
          TypedArray: Object.getPrototypeOf(Int8Array), 'TypedArray.prototype': Object.getPrototypeOf(Int8Array.prototype),
        };
        if (typeof Iterator === 'function' && typeof Iterator.prototype.map === 'function')
          found.IteratorHelperPrototype = Object.getPrototypeOf([].values().map(function (x) { return x; }));
        if (typeof Iterator === 'function' && typeof Iterator.from === 'function')
          found.WrapForValidIteratorPrototype = Object.getPrototypeOf(Iterator.from({ next: function () { return { done: true }; } }));
        if (typeof Intl === 'object' && typeof Intl.Segmenter === 'function') {
          const segments = new Intl.Segmenter().segment('ab');
          found.SegmentsPrototype = Object.getPrototypeOf(segments);
          found.SegmentIteratorPrototype = Object.getPrototypeOf(segments[Symbol.iterator]());
        }
        """

    /// Tries to hook each intrinsic (and `next`/`then`-style methods on it) and reads RegExp's statics.
    static let attacker = Fn(name: "attacker", source: """
        async function pipe(user, context, callback) {
          \(intrinsics)
          const open = [];
          for (const name of Object.keys(found)) {
            const o = found[name];
            const hooked = Reflect.set(o, 'next', function () { return { done: true }; })
              || Reflect.defineProperty(o, 'stolen', { value: 1 }) || Reflect.setPrototypeOf(o, null);
            if (!Object.isFrozen(o) || hooked) open.push(name);
          }
          const statics = ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'",
                           '$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9', 'multiline', '$*'];
          const seen = [];
          for (const s of statics) { try { const v = RegExp[s]; if (v !== undefined && v !== '' && v !== false) seen.push(s + '=' + String(v)); } catch (e) {} }
          context.addAccessToken('open', open);
          context.addAccessToken('seen', seen);
          context.addAccessToken('names', Object.keys(found).length);
          callback(null, user, context);
        }
        """)

    /// An ordinary function: iterates, matches a regular expression against its user's email, generates.
    static let victim = Fn(name: "victim", source: """
        async function pipe(user, context, callback) {
          const parts = [];
          for (const ch of 'ab') parts.push(ch);
          for (const [k] of new Map([['m', 1]])) parts.push(k);
          for (const v of new Set(['s'])) parts.push(v);
          for (const x of [1, 2]) parts.push(String(x));
          function* gen() { yield 'g'; }
          for (const g of gen()) parts.push(g);
          const m = /^([^@]+)@(.+)$/.exec(user.email);
          for (const hit of user.email.matchAll(/o/g)) parts.push(hit[0]);
          user.addAccessToken('parts', parts.join(''));
          user.addAccessToken('domain', m[2]);
          callback(null, user, context);
        }
        """)

    @Test func alternatingClientsOnOneWorkerCannotReachEachOther() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let user: JSONValue = ["id": "v", "email": "victim.secret@example.org"]
        for round in 0..<3 {
            let a = try await engine.run([Self.attacker], context: ["clientId": "evil"])
            #expect(a.outcome == .proceed && a.functions.map(\.outcome) == [.ok], "\(a.logs) \(a.functions)")
            #expect(a.claims["open"] == [], "round \(round): intrinsics left open: \(a.claims["open"] ?? .null)")
            #expect(a.claims["seen"] == [], "round \(round): RegExp statics carried: \(a.claims["seen"] ?? .null)")
            #expect((a.claims["names"]?.intValue ?? 0) >= 17)
            let v = try await engine.run([Self.victim], user: user, context: ["clientId": "victim", "accessTokenTarget": "user"])
            #expect(v.outcome == .proceed, "\(v.logs)")
            #expect(v.claims == ["parts": "abms12go", "domain": "example.org"], "round \(round): \(v.claims)")
        }
    }
}
