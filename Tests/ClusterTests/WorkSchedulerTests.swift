@testable import Cluster
import Foundation
import XCTest

final class WorkSchedulerTests: XCTestCase {
    private func makeItems(_ count: Int) -> [WorkItem] {
        (0..<count).map { WorkItem(id: "cell-\($0)", cost: Double($0 % 4), payload: Data([UInt8($0)])) }
    }

    func testSchedulingOrderLongestFirstThenID() throws {
        let items = [WorkItem(id: "b", cost: 1), WorkItem(id: "c", cost: 8), WorkItem(id: "a", cost: 1),
                     WorkItem(id: "d", cost: 4)]
        let order = try WorkScheduler.schedulingOrder(items).map(\.id)
        XCTAssertEqual(order, ["c", "d", "a", "b"])
    }

    func testSchedulingOrderIndependentOfInputOrder() throws {
        let items = makeItems(20)
        let forward = try WorkScheduler.schedulingOrder(items).map(\.id)
        let backward = try WorkScheduler.schedulingOrder(items.reversed()).map(\.id)
        XCTAssertEqual(forward, backward)
    }

    func testDuplicateIDRejected() {
        let items = [WorkItem(id: "x", cost: 1), WorkItem(id: "x", cost: 2)]
        XCTAssertThrowsError(try WorkScheduler.schedulingOrder(items)) { error in
            XCTAssertEqual(error as? ClusterError, .duplicateItemID("x"))
        }
    }

    func testNaNCostRejected() {
        XCTAssertThrowsError(try WorkScheduler.schedulingOrder([WorkItem(id: "x", cost: .nan)])) { error in
            guard case .invalidItemCost(let id, _) = error as? ClusterError else {
                return XCTFail("expected invalidItemCost, got \(error)")
            }
            XCTAssertEqual(id, "x")
        }
    }

    func testSingleProcessRunsEveryItemOnce() throws {
        let items = makeItems(25)
        var worked: [String] = []
        var recorded: [String] = []
        let summary = try WorkScheduler(context: .singleProcess()).run(items: items, work: { item in
            worked.append(item.id)
            return item.payload
        }, onResult: { result in
            recorded.append(result.item.id)
            XCTAssertEqual(result.rank, 0)
            XCTAssertEqual(result.outcome, .success(result.item.payload))
        })

        XCTAssertEqual(worked, try WorkScheduler.schedulingOrder(items).map(\.id))
        XCTAssertEqual(recorded, worked)
        XCTAssertEqual(Set(recorded).count, items.count)
        XCTAssertEqual(summary.succeeded, 25)
        XCTAssertEqual(summary.failed, 0)
        XCTAssertEqual(summary.itemsPerRank, [25])
    }

    func testThrowingItemRecordedAsFailure() throws {
        struct Boom: Error, CustomStringConvertible {
            var description: String { "out of memory in cell-2" }
        }
        var outcomes: [String: WorkResult.Outcome] = [:]
        let summary = try WorkScheduler(context: .singleProcess()).run(items: makeItems(5), work: { item in
            if item.id == "cell-2" { throw Boom() }
            return Data()
        }, onResult: { outcomes[$0.item.id] = $0.outcome })

        XCTAssertEqual(outcomes.count, 5)
        XCTAssertEqual(outcomes["cell-2"], .failure("out of memory in cell-2"))
        XCTAssertEqual(outcomes["cell-3"], .success(Data()))
        XCTAssertEqual(summary.failed, 1)
        XCTAssertEqual(summary.succeeded, 4)
    }

    func testOnResultErrorStopsRun() {
        struct DiskFull: Error {}
        var worked = 0
        XCTAssertThrowsError(try WorkScheduler(context: .singleProcess()).run(items: makeItems(10), work: { _ in
            worked += 1
            return Data()
        }, onResult: { _ in throw DiskFull() })) { error in
            XCTAssertTrue(error is DiskFull)
        }
        XCTAssertEqual(worked, 1)
    }

    func testEmptyItemList() throws {
        let summary = try WorkScheduler(context: .singleProcess()).run(items: [], work: { _ in Data() },
                                                                       onResult: { _ in XCTFail("no results expected") })
        XCTAssertEqual(summary.succeeded, 0)
    }

    func testMessageRoundTrip() throws {
        let item = WorkItem(id: "ctx-8000/depth-50", cost: 8000, payload: Data([1, 2, 3]))
        let messages: [SchedulerMessage] = [
            .ready, .stop, .heartbeat, .done, .assign(item),
            .result(id: "a", seconds: 1.5, outcome: .success(Data([9]))),
            .result(id: "b", seconds: 0, outcome: .failure("bad")),
        ]
        for message in messages {
            let decoded = try SchedulerMessage(MPIContext.Message(source: 1, tag: message.tag, bytes: message.encoded()))
            XCTAssertEqual(decoded.encoded(), message.encoded())
            XCTAssertEqual(decoded.tag, message.tag)
        }
    }

    func testTruncatedMessageRejected() {
        let bytes = SchedulerMessage.assign(WorkItem(id: "abc", cost: 1)).encoded()
        let message = MPIContext.Message(source: 2, tag: SchedulerMessage.assignTag, bytes: Array(bytes.dropLast(3)))
        XCTAssertThrowsError(try SchedulerMessage(message)) { error in
            guard case .malformedMessage(let source, let tag, _) = error as? ClusterError else {
                return XCTFail("expected malformedMessage, got \(error)")
            }
            XCTAssertEqual(source, 2)
            XCTAssertEqual(tag, SchedulerMessage.assignTag)
        }
    }

    func testUnknownTagRejected() {
        let message = MPIContext.Message(source: 1, tag: 99, bytes: [])
        XCTAssertThrowsError(try SchedulerMessage(message))
    }
}
