import Foundation
import XCTest
@testable import TensorKernels

final class ExpTests: XCTestCase {
    func testExpMatchesFoundationWithinThreeUlp() {
        var x: Float = -87
        var worst: Float = 0
        while x <= 88 {
            let fast = FastExp.exp(x)
            let exact = Float(Foundation.exp(Double(x)))
            let ulps = abs(fast - exact) / exact.ulp
            worst = max(worst, ulps)
            x += 0.001_37
        }
        XCTAssertLessThanOrEqual(worst, 3, "largest error in ulp")
    }

    func testExpVectorLanesMatchScalar() {
        let inputs = SIMD8<Float>(-20, -1.5, -0.3, 0, 0.25, 1, 7.5, 40)
        let vector = FastExp.exp(inputs)
        for lane in 0..<8 {
            XCTAssertEqual(vector[lane], FastExp.exp(inputs[lane]))
        }
    }

    func testExpClampsExtremeInputs() {
        XCTAssertTrue(FastExp.exp(-Float.infinity).isFinite)
        XCTAssertTrue(FastExp.exp(Float(1000)).isFinite)
        XCTAssertEqual(FastExp.exp(Float(0)), 1)
    }
}

final class VectorOpsTests: XCTestCase {
    func testRMSNormMatchesDefinition() {
        let count = 21
        let x = (0..<count).map { Float($0) * 0.37 - 3 }
        let weight = (0..<count).map { 1 + Float($0) * 0.01 }
        var output = [Float](repeating: 0, count: count)
        VectorOps.rmsNorm(x, weight: weight, epsilon: 1e-5, count: count, output: &output)
        let meanSquare = x.map { Double($0) * Double($0) }.reduce(0, +) / Double(count)
        for i in 0..<count {
            let expected = Double(x[i]) / (meanSquare + 1e-5).squareRoot() * Double(weight[i])
            XCTAssertEqual(Double(output[i]), expected, accuracy: 1e-5)
        }
    }

    func testSoftmaxSumsToOne() {
        var x: [Float] = (0..<37).map { sin(Float($0)) * 5 }
        VectorOps.softmax(&x, count: x.count)
        XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testSoftmaxMatchesDefinition() {
        let input: [Float] = (0..<19).map { Float($0) * 0.7 - 4 }
        var x = input
        VectorOps.softmax(&x, count: x.count)
        let exps = input.map { Foundation.exp(Double($0)) }
        let sum = exps.reduce(0, +)
        for i in 0..<input.count {
            XCTAssertEqual(Double(x[i]), exps[i] / sum, accuracy: 1e-6)
        }
    }

    func testSoftmaxGivesMaskedEntriesZero() {
        var x: [Float] = [1, -.infinity, 2, 3, -.infinity, 0, 1, 1, -.infinity, 5]
        VectorOps.softmax(&x, count: x.count)
        XCTAssertEqual(x[1], 0)
        XCTAssertEqual(x[4], 0)
        XCTAssertEqual(x[8], 0)
        XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-6)
    }

    func testSoftmaxAllMaskedGivesZeros() {
        var x = [Float](repeating: -.infinity, count: 11)
        VectorOps.softmax(&x, count: x.count)
        XCTAssertEqual(x, [Float](repeating: 0, count: 11))
    }

    func testSwiGLUMatchesDefinition() {
        let gateInput: [Float] = (0..<13).map { Float($0) - 6.5 }
        let up: [Float] = (0..<13).map { Float($0) * 0.1 + 0.3 }
        var gate = gateInput
        VectorOps.swiGLU(gate: &gate, up: up, count: gate.count)
        for i in 0..<gate.count {
            let g = Double(gateInput[i])
            let expected = g / (1 + Foundation.exp(-g)) * Double(up[i])
            XCTAssertEqual(Double(gate[i]), expected, accuracy: 1e-6)
        }
    }

    func testArgmaxTakesFirstOfTies() {
        let x: [Float] = [0, 3, 1, 3, -2]
        XCTAssertEqual(VectorOps.argmax(x, count: x.count), 1)
    }

    func testAddAndScale() {
        var y: [Float] = (0..<10).map(Float.init)
        let x = [Float](repeating: 2, count: 10)
        VectorOps.add(x, to: &y, count: 10)
        VectorOps.scale(&y, by: 0.5, count: 10)
        XCTAssertEqual(y, (0..<10).map { (Float($0) + 2) / 2 })
    }
}

final class RotaryEmbeddingTests: XCTestCase {
    func testRotationMatchesRotateHalfDefinition() {
        let headDim = 16, heads = 2, position = 37
        let rope = RotaryEmbedding(headDim: headDim, base: 10_000)
        let input: [Float] = (0..<(headDim * heads)).map { Float($0 % 7) - 3 }
        var x = input
        var cosines = [Float](repeating: 0, count: headDim / 2), sines = cosines
        rope.fillTable(position: position, cos: &cosines, sin: &sines)
        RotaryEmbedding.apply(&x, heads: heads, headDim: headDim, cos: cosines, sin: sines)
        let half = headDim / 2
        for head in 0..<heads {
            for i in 0..<half {
                let angle = Double(position) / pow(10_000, Double(2 * i) / Double(headDim))
                let a = Double(input[head * headDim + i]), b = Double(input[head * headDim + i + half])
                XCTAssertEqual(Double(x[head * headDim + i]), a * cos(angle) - b * sin(angle), accuracy: 1e-4)
                XCTAssertEqual(Double(x[head * headDim + i + half]), b * cos(angle) + a * sin(angle), accuracy: 1e-4)
            }
        }
    }

    func testLinearScalingDividesPositions() {
        let plain = RotaryEmbedding(headDim: 8, base: 10_000)
        let scaled = RotaryEmbedding(headDim: 8, base: 10_000, linearFactor: 4)
        for i in 0..<4 {
            XCTAssertEqual(scaled.inverseFrequencies[i], plain.inverseFrequencies[i] / 4)
        }
    }

    func testFrequencyFactorsDivideFrequencies() {
        let plain = RotaryEmbedding(headDim: 8, base: 500_000)
        let factors: [Float] = [1, 2, 8, 8]
        let scaled = RotaryEmbedding(headDim: 8, base: 500_000, frequencyFactors: factors)
        for i in 0..<4 {
            XCTAssertEqual(scaled.inverseFrequencies[i], plain.inverseFrequencies[i] / factors[i])
        }
    }
}

final class ParallelForTests: XCTestCase {
    func testRunVisitsEachIndexOnce() {
        let count = 1000
        let visits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer { visits.deallocate() }
        for threads in [1, 2, 3, 8] {
            visits.initialize(repeating: 0, count: count)
            ParallelFor.run(count, threads: threads) { visits[$0] += 1 }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: visits, count: count)), [Int](repeating: 1, count: count), "\(threads) threads")
        }
    }

    func testDynamicWorkersStayBelowThreadCount() {
        let count = 500
        let workers = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer { workers.deallocate() }
        workers.initialize(repeating: -1, count: count)
        ParallelFor.runDynamic(count, threads: 3) { worker, index in workers[index] = worker }
        let seen = Set(UnsafeBufferPointer(start: workers, count: count))
        XCTAssertTrue(seen.isSubset(of: [0, 1, 2]), "workers \(seen)")
    }

    func testNestedLoopRunsInline() {
        let outer = 4, inner = 50
        let visits = UnsafeMutablePointer<Int>.allocate(capacity: outer * inner)
        defer { visits.deallocate() }
        visits.initialize(repeating: 0, count: outer * inner)
        ParallelFor.run(outer, threads: 2) { i in
            ParallelFor.run(inner, threads: 2) { j in visits[i * inner + j] += 1 }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: visits, count: outer * inner)), [Int](repeating: 1, count: outer * inner))
    }

    func testDefaultThreadsDivideByLocalRanks() {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        XCTAssertEqual(Threading.defaultThreadCount(environment: [:]), cores)
        XCTAssertEqual(Threading.defaultThreadCount(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "\(cores)"]), 1)
        XCTAssertEqual(Threading.defaultThreadCount(environment: ["MPI_LOCALNRANKS": "\(cores * 4)"]), 1)
    }

    func testLocalRankCountIgnoresInvalidValues() {
        XCTAssertEqual(Threading.localRankCount(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "zero"]), 1)
        XCTAssertEqual(Threading.localRankCount(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "0"]), 1)
    }

    func testSingleThreadedBLASRestoresCount() {
        Threading.setBLASThreads(2)
        let before = Threading.blasThreads
        Threading.withSingleThreadedBLAS {
            XCTAssertEqual(Threading.blasThreads, 1)
        }
        XCTAssertEqual(Threading.blasThreads, before)
    }
}
