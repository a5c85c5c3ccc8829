@testable import Cluster
import XCTest

final class MPIContextTests: XCTestCase {
    func testLaunchDetectionWithoutLauncher() {
        XCTAssertFalse(MPIContext.launchedByMPI(environment: ["PATH": "/usr/bin"]))
    }

    func testLaunchDetectionUnderMpirun() {
        XCTAssertTrue(MPIContext.launchedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        XCTAssertTrue(MPIContext.launchedByMPI(environment: ["PMIX_RANK": "0"]))
    }

    func testInitializeWithoutLauncherIsSingleProcess() throws {
        let context = try MPIContext.initialize(environment: [:])
        XCTAssertEqual(context.size, 1)
        XCTAssertEqual(context.rank, 0)
        XCTAssertFalse(context.usesMPI)
        XCTAssertTrue(context.isCoordinator)
        XCTAssertTrue(try MPIContext.initialize(environment: [:]) === context)
    }

    func testSingleProcessSendRejected() {
        XCTAssertThrowsError(try MPIContext.singleProcess().send([1], to: 0, tag: 1)) { error in
            XCTAssertEqual(error as? ClusterError, .notLaunchedByMPI(operation: "send"))
        }
    }

    func testSingleProcessCollectives() throws {
        let context = MPIContext.singleProcess()
        try context.barrier()
        XCTAssertEqual(try context.broadcast([7, 8]), [7, 8])
        XCTAssertEqual(try context.onCoordinator { 42 }, 42)
        try context.finalize()
    }

    func testCoordinatorErrorRethrown() {
        struct Refused: Error {}
        XCTAssertThrowsError(try MPIContext.singleProcess().onCoordinator { () throws -> Int in throw Refused() }) { error in
            XCTAssertTrue(error is Refused)
        }
    }
}
