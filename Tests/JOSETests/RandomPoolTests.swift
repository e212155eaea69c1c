import JOSE
import Testing

/// Token ids drawn from the pool: each byte handed out once, across refills and concurrent callers.
@Suite struct RandomPoolTests {
    @Test func idsStayDistinctAcrossRefills() {
        let pool = RandomPool()
        // Three refills' worth of 16-byte ids, and one of an odd size that leaves a remainder behind each refill.
        let ids = (0..<(3 * RandomPool.refillBytes / 16)).map { i in pool.bytes(i % 7 == 0 ? 15 : 16) }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 15 || $0.count == 16 })
    }

    @Test(arguments: [0, 1, 16, RandomPool.refillBytes - 1, RandomPool.refillBytes, RandomPool.refillBytes + 1, 3 * RandomPool.refillBytes])
    func everySizeComesWhole(_ count: Int) {
        let pool = RandomPool()
        _ = pool.bytes(5)
        let bytes = pool.bytes(count)
        #expect(bytes.count == count)
        // Large draws are random too: no long run of one byte value.
        if count >= 1024 { #expect(Set(bytes).count > 200) }
    }

    @Test func concurrentCallersNeverShareAnId() async {
        let pool = RandomPool()
        let ids = await withTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<4 { group.addTask { (0..<2000).map { _ in pool.bytes(16) } } }
            var all: [[UInt8]] = []
            for await some in group { all += some }
            return all
        }
        #expect(ids.count == 8000 && Set(ids).count == 8000)
    }
}
