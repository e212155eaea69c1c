import Claims
import JSONCore
import Testing

/// Numeric claims are total: any JSON a token can carry is either a bounded NumericDate or a refusal,
/// never a trap (`abs(iat - now)` and `exp + leeway` trapped on hostile values before).
@Suite struct NumericDateTests {
    static let now: Int64 = 1_800_000_000

    @Test(arguments: [
        JSONValue.int(.min), .int(.max), .int(.min + 1), .int(-100_000_000_001), .int(100_000_000_001),
        .double(.infinity), .double(-.infinity), .double(.nan), .double(1e300), .double(-1e300), .double(9.3e18),
        .string("1800000000"), .bool(true), .null, .array([1]), .object(["n": 1]),
    ])
    func outOfRangeOrNotANumberIsRefusedForEveryTimeClaim(_ value: JSONValue) {
        #expect(NumericDate.seconds(value) == nil)
        for check in [ExpirationCheck(leeway: 30, maxLifetime: 3600) as any ClaimCheck, NotBeforeCheck(leeway: 30), IssuedAtWindowCheck(window: 60)] {
            let name = check is ExpirationCheck ? "exp" : check is NotBeforeCheck ? "nbf" : "iat"
            #expect(throws: ClaimCheckError.self, "\(name) = \(value)") { try check.check([name: value], now: Self.now) }
        }
    }

    @Test(arguments: [
        (JSONValue.int(1_800_000_000), Int64(1_800_000_000)), (.double(1_800_000_000.9), 1_800_000_000), (.double(-0.5), -1),
        (.int(100_000_000_000), 100_000_000_000), (.int(-100_000_000_000), -100_000_000_000), (.double(0), 0),
    ])
    func boundedNumbersAreRead(_ value: JSONValue, _ expected: Int64) {
        #expect(NumericDate.seconds(value) == expected)
    }

    @Test func checksAtTheBoundsDecideWithoutTrapping() throws {
        let far: Int64 = NumericDate.bound
        #expect(throws: ClaimCheckError.self) { try ExpirationCheck(leeway: .max).check(["exp": .int(-far)], now: .max) }
        try ExpirationCheck(leeway: .max).check(["exp": .int(far)], now: Self.now)
        #expect(throws: ClaimCheckError.self) { try ExpirationCheck(maxLifetime: 3600).check(["exp": .int(far)], now: .min) }
        #expect(throws: ClaimCheckError.self) { try IssuedAtWindowCheck(window: 60).check(["iat": .int(-far)], now: .max) }
        #expect(throws: ClaimCheckError.self) { try NotBeforeCheck(leeway: .max).check(["nbf": .int(far)], now: .min) }
        try NotBeforeCheck(leeway: .max).check(["nbf": .int(far)], now: .max)
        #expect(Int64.max.saturatingAdd(1) == .max && Int64.min.saturatingAdd(-1) == .min)
        #expect(Int64.min.saturatingSubtract(1) == .min && Int64.max.saturatingSubtract(-1) == .max)
    }
}
