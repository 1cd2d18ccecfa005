import DroverCore
import DroverProto
import Foundation
import Testing

/// A chunk's announced size is the peer's word: it must not make the receiver reserve it (found
/// by the `decode` fuzz target: one small `PutData` message claiming 1 TiB killed a worker).
@Suite struct DataChunksClaimTests {
    @Test func aChunkClaimingAHugeTotalIsAssembledFromTheBytesThatCame() throws {
        var chunk = Drover_V1_DataChunk()
        chunk.key = "a"
        chunk.totalBytes = 1 << 40
        chunk.data = Data([1])
        chunk.last = true
        var assembler = DataChunks.Assembler()
        try assembler.add(chunk)
        #expect(assembler.values["a"]?.data == Data([1]))
    }

    @Test func aNegativeTotalIsRefused() {
        var chunk = Drover_V1_DataChunk()
        chunk.key = "a"
        chunk.totalBytes = -1
        chunk.data = Data([1])
        var assembler = DataChunks.Assembler()
        #expect(throws: ProtoConversionError.self) { try assembler.add(chunk) }
    }
}
