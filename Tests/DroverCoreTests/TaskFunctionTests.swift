import DroverCore
import Testing

@Suite struct TaskFunctionTests {
    @Test func callsDirectly() async throws {
        #expect(try await add(2, 3) == 5)
        #expect(try await total([1, 2, 3]) == 6)
    }

    @Test func describesItsSignature() {
        #expect(add.erased.signature == "add(Int, Int) -> Int")
        #expect(total.erased.signature == "sum([Int]) -> Int")
        #expect(TaskFunction("none") { () in 0 }.erased.signature == "none() -> Int")
    }

    @Test func wrongArgumentTypeNamesFunctionPositionAndTypes() async throws {
        let result = await add.erased.run(
            key: "add-1", arguments: [.object(1), .payload(try "two".encodePayload())], location: "pid 1"
        )
        guard case .failure(let error) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.kind == .badArgument)
        #expect(error.function == "add")
        #expect(error.message.contains("function 'add' expects argument 2 of type Int, got String"))
    }

    @Test func wrongArgumentCountIsABadArgument() async {
        let result = await add.erased.run(key: "add-1", arguments: [.object(1)], location: nil)
        guard case .failure(let error) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.kind == .badArgument)
        #expect(error.message == "function 'add' takes 2 argument(s), got 1")
    }

    @Test func aThrowingBodyIsAFailedTask() async {
        struct Broken: Error, CustomStringConvertible { var description: String { "broken pipe" } }
        let failing = TaskFunction("failing") { (_: Int) throws -> Int in throw Broken() }
        let result = await failing.erased.run(key: "failing-1", arguments: [.object(1)], location: "pid 7")
        guard case .failure(let error) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.kind == .failed)
        #expect(error.description == "Task 'failing-1' (function 'failing') failed on pid 7: broken pipe")
        #expect(error.errorType?.hasSuffix(".Broken") == true, "\(error.errorType ?? "nil")")
        #expect(error.errorValue == nil)
    }

    struct Overdrawn: Error, Codable, Equatable, TaskValue {
        var balance: Int
    }

    @Test func aThrownTaskValueErrorCanBeDecodedAsItsType() async {
        let withdraw = TaskFunction("withdraw") { (amount: Int) throws -> Int in throw Overdrawn(balance: -amount) }
        let result = await withdraw.erased.run(key: "withdraw-1", arguments: [.object(5)], location: nil)
        guard case .failure(let error) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.errorType == String(reflecting: Overdrawn.self))
        #expect(error.error(as: Overdrawn.self) == Overdrawn(balance: -5))
    }

    @Test func registryFindsFunctionsByName() {
        var registry = TaskRegistry()
        registry.register(inc)
        registry.register(add)
        #expect(registry.names == ["add", "inc"])
        #expect(registry["inc"]?.signature == "inc(Int) -> Int")
        #expect(registry["nope"] == nil)
        #expect(TaskRegistry.builtins.names.contains("sum"))
    }
}
