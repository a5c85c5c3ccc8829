import XCTest
@testable import KVPolicies

final class PolicyOptionsTests: XCTestCase {
    func testDefaultsMatchReferenceRunner() {
        let defaults = PolicyOptions()
        XCTAssertEqual(defaults.method, "fullkv")
        XCTAssertEqual(defaults.budget(forPromptLength: 10_000), 512)
        XCTAssertEqual(defaults.windowSize, 8)
        XCTAssertEqual(defaults.kernelSize, 7)
        XCTAssertEqual(defaults.pooling, .maxpool)
        XCTAssertEqual(defaults.granularity, .queryHead)
        XCTAssertEqual(defaults.gqaScoreAggregation, .mean)
        XCTAssertNil(defaults.merge)
        XCTAssertEqual(defaults.floor, 0.2)
        XCTAssertEqual(defaults.pyramidBeta, 20)
        XCTAssertEqual(defaults.headBeta, 1.01)
        XCTAssertEqual(defaults.pruningRatio, 0.4)
        XCTAssertEqual(defaults.recentSize, 32)
        XCTAssertEqual(defaults.startSize, 4)
        XCTAssertEqual(defaults.seed, 42)
        XCTAssertFalse(defaults.compressDuringDecode)
        XCTAssertEqual(defaults.decodeCompressInterval, 16)
    }

    func testParseConsumesKnownFlagsOnly() throws {
        var arguments = ["--model_path", "m.gguf", "--method", "SnapKV", "--max_capacity_prompt", "128",
                         "--pooling=avgpool", "--compress_during_decode", "--datasets", "qasper", "--seed", "7"]
        let parsed = try PolicyOptions.parse(&arguments)
        XCTAssertEqual(arguments, ["--model_path", "m.gguf", "--datasets", "qasper"])
        XCTAssertEqual(parsed.method, "snapkv")
        XCTAssertEqual(parsed.maxCapacityPrompts, 128)
        XCTAssertEqual(parsed.pooling, .avgpool)
        XCTAssertTrue(parsed.compressDuringDecode)
        XCTAssertEqual(parsed.seed, 7)
    }

    func testParseBooleanFlagValue() throws {
        var explicit = ["--compress_during_decode", "false", "--method", "h2o"]
        XCTAssertFalse(try PolicyOptions.parse(&explicit).compressDuringDecode)
        XCTAssertEqual(explicit, [])
        var inline = ["--compress_during_decode=1"]
        XCTAssertTrue(try PolicyOptions.parse(&inline).compressDuringDecode)
    }

    func testMethodNamesAreCaseInsensitive() throws {
        for name in ["FullKV", "SNAPKV", "PyramidKV", "H2O", "StreamingLLM", "cam", "L2Norm", "AdaKV", "HeadKV", "ThinK"] {
            XCTAssertEqual(try options(["--method", name]).method, name.lowercased())
        }
        XCTAssertEqual(MethodRegistry.referenceSpelling("snapkv"), "SnapKV")
        XCTAssertEqual(MethodRegistry.referenceSpelling("STREAMINGLLM"), "StreamingLLM")
        XCTAssertEqual(MethodRegistry.names, ["fullkv", "snapkv", "pyramidkv", "h2o", "streamingllm", "cam", "l2norm", "adakv", "headkv", "think"])
    }

    func testUnknownMethodNamesTheValue() {
        XCTAssertThrowsError(try options(["--method", "quest"])) { error in
            XCTAssertEqual(error as? PolicyError, .unknownMethod("quest"))
            XCTAssertTrue("\(error)".contains("\"quest\""))
            XCTAssertTrue("\(error)".contains("snapkv"))
        }
    }

    func testInvalidValuesNameFlagAndValue() {
        let cases: [([String], String)] = [
            (["--pooling", "minpool"], "--pooling"),
            (["--kv_cache_granularity", "layer"], "--kv_cache_granularity"),
            (["--gqa_score_agg", "median"], "--gqa_score_agg"),
            (["--merge", "average"], "--merge"),
            (["--window_size", "eight"], "--window_size"),
            (["--floor", "nan"], "--floor"),
            (["--seed", "-3"], "--seed"),
        ]
        for (flags, flag) in cases {
            XCTAssertThrowsError(try options(flags), "\(flags)") { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(flag), message)
                XCTAssertTrue(message.contains(flags[1]), message)
            }
        }
    }

    func testMissingValue() {
        XCTAssertThrowsError(try options(["--window_size"])) { error in
            XCTAssertEqual(error as? PolicyError, .missingValue(flag: "--window_size"))
        }
        XCTAssertThrowsError(try options(["--window_size", "--pooling", "maxpool"])) { error in
            XCTAssertEqual(error as? PolicyError, .missingValue(flag: "--window_size"))
        }
    }

    func testMergeNoneMeansNoMerge() throws {
        XCTAssertNil(try options(["--merge", "none"]).merge)
        XCTAssertEqual(try options(["--merge", "Pivot"]).merge, .pivot)
    }

    private func assertRejected(_ flags: [String], mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try options(flags).validate(), file: file, line: line) { error in
            for word in words {
                XCTAssertTrue("\(error)".contains(word), "\"\(error)\" lacks \(word)", file: file, line: line)
            }
        }
    }

    func testThinkRejectsKVHead() {
        assertRejected(["--method", "think", "--kv_cache_granularity", "kv_head"], mentioning: ["ThinK", "kv_head"])
    }

    func testMergeRejectedForUnsupportedMethods() throws {
        for method in ["cam", "l2norm", "adakv", "headkv", "think"] {
            assertRejected(["--method", method, "--merge", "pivot"], mentioning: ["--merge", MethodRegistry.referenceSpelling(method)])
        }
        for method in ["snapkv", "pyramidkv", "h2o", "streamingllm"] {
            XCTAssertNoThrow(try options(["--method", method, "--merge", "weighted"]).validate(), method)
        }
    }

    func testBudgetBelowWindowRejected() throws {
        assertRejected(["--method", "snapkv", "--max_capacity_prompts", "8"], mentioning: ["budget 8", "--window_size", "9"])
        assertRejected(["--method", "streamingllm", "--max_capacity_prompts", "4"], mentioning: ["budget 4", "--start_size"])
        XCTAssertNoThrow(try options(["--method", "snapkv", "--max_capacity_prompts", "9"]).validate())
        XCTAssertNoThrow(try options(["--method", "l2norm", "--max_capacity_prompts", "1"]).validate())
        XCTAssertNoThrow(try options(["--method", "streamingllm", "--max_capacity_prompts", "5"]).validate())
    }

    func testRatioRules() throws {
        assertRejected(["--method", "snapkv", "--max_capacity_prompts", "128", "--max_capacity_prompts_ratio", "0.1"],
                       mentioning: ["--max_capacity_prompts_ratio", "cannot be combined"])
        let ratio = try options(["--method", "snapkv", "--max_capacity_prompts", "-1", "--max_capacity_prompts_ratio", "0.1"])
        XCTAssertNoThrow(try ratio.validate())
        // round(1005 * 0.1) = round(100.5) = 100 with Python's half-to-even rounding.
        XCTAssertEqual(ratio.budget(forPromptLength: 1005), 100)
        XCTAssertEqual(ratio.budget(forPromptLength: 1015), 102)
        XCTAssertThrowsError(try ratio.validate(promptLength: 80)) { error in
            XCTAssertTrue("\(error)".contains("budget 8"), "\(error)")
        }
        XCTAssertNoThrow(try ratio.validate(promptLength: 90))
        assertRejected(["--max_capacity_prompts_ratio", "1.5"], mentioning: ["1.5"])
    }

    func testInvalidRanges() {
        assertRejected(["--kernel_size", "4"], mentioning: ["--kernel_size", "odd"])
        assertRejected(["--window_size", "0"], mentioning: ["--window_size"])
        assertRejected(["--floor", "1.5"], mentioning: ["--floor"])
        assertRejected(["--pruning_ratio", "1"], mentioning: ["--pruning_ratio"])
        assertRejected(["--head_beta", "0.5"], mentioning: ["--head_beta"])
        assertRejected(["--decode_compress_interval", "0"], mentioning: ["--decode_compress_interval"])
        assertRejected(["--max_capacity_prompts", "0"], mentioning: ["--max_capacity_prompts"])
    }

    func testCompressDuringDecodeRules() throws {
        for method in ["h2o", "streamingllm", "snapkv", "pyramidkv"] {
            XCTAssertNoThrow(try options(["--method", method, "--compress_during_decode"]).validate(), method)
        }
        for method in ["fullkv", "cam", "l2norm", "adakv", "headkv", "think"] {
            assertRejected(["--method", method, "--compress_during_decode"],
                           mentioning: ["--compress_during_decode", MethodRegistry.referenceSpelling(method)])
        }
        assertRejected(["--method", "snapkv", "--compress_during_decode", "--merge", "pivot"], mentioning: ["--merge"])
    }

    func testResultAffectingDescription() throws {
        let snap = try options(["--method", "snapkv", "--max_capacity_prompts", "128"]).resultAffectingDescription
        XCTAssertEqual(snap, ["method": "SnapKV", "max_capacity_prompts": "128", "kv_cache_granularity": "query_head",
                              "window_size": "8", "kernel_size": "7", "pooling": "maxpool"])
        let cam = try options(["--method", "cam", "--seed", "3"]).resultAffectingDescription
        XCTAssertEqual(cam["seed"], "3")
        XCTAssertNil(cam["pooling"])
        XCTAssertEqual(try options([]).resultAffectingDescription, ["method": "FullKV"])
        let streaming = try options(["--method", "streamingllm", "--window_size", "32"]).resultAffectingDescription
        XCTAssertNil(streaming["window_size"], "StreamingLLM ignores --window_size")
        XCTAssertEqual(streaming["start_size"], "4")
    }
}
