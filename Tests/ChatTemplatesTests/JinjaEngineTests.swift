import ChatTemplates
import Foundation
import XCTest

/// Engine behaviour on small templates. The expected outputs of the case table were produced by
/// transformers 5.25.0 `_compile_jinja_template` (jinja2 3.1.6, trim_blocks=True,
/// lstrip_blocks=True), the environment `apply_chat_template` renders with.
final class JinjaEngineTests: XCTestCase {
    private func render(_ source: String, _ variables: [String: JinjaValue] = [:]) throws -> String {
        try ChatTemplate(source).render(variables: variables)
    }

    private func assertRenderError(
        _ source: String, _ variables: [String: JinjaValue] = [:], _ expected: ChatTemplateError,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try render(source, variables), file: file, line: line) { error in
            XCTAssertEqual(error as? ChatTemplateError, expected, file: file, line: line)
        }
    }

    // MARK: - Behaviour matching jinja2

    static let jinja2Cases: [(template: String, variables: [String: JinjaValue], expected: String)] = [
        ("{% if true %}\n  yes\n{% endif %}\nend",
         [:],
         "  yes\nend"),
        ("  {% if true %}\nA{% endif %}",
         [:],
         "A"),
        ("a  {%- if true -%}  b  {%- endif -%}  c",
         [:],
         "abc"),
        ("a\n  {{ 'x' }}\nb",
         [:],
         "a\n  x\nb"),
        ("a\n  {{- 'x' -}}\n  b",
         [:],
         "axb"),
        ("{# note #}\nA\n  {#- trimmed -#}  B",
         [:],
         "AB"),
        ("x{%+ if true %} y{% endif +%}\nz",
         [:],
         "x y\nz"),
        ("line\n",
         [:],
         "line"),
        ("line\n\n",
         [:],
         "line\n"),
        ("{% raw %}{{ not rendered }}{% endraw %}",
         [:],
         "{{ not rendered }}"),
        ("a\r\nb",
         [:],
         "a\nb"),
        ("{{ 'it\\'s' ~ \"\\t|\\u00e9|\\x41\" }}",
         [:],
         "it's\t|é|A"),
        ("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ -2 ** 2 }} {{ 5.5 % 2 }}",
         [:],
         "3 -4 2 3.5 1024 4 1.5"),
        ("{{ 1e15 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 3.0 }} {{ 1_000 }} {{ 0x1F }}",
         [:],
         "1000000000000000.0 1e+16 0.30000000000000004 1e-05 3.0 1000 31"),
        ("{{ [1, 'a', none, true, {'k': \"it's\"}] }}",
         [:],
         "[1, 'a', None, True, {'k': \"it's\"}]"),
        ("{{ 'ab' * 3 }} {{ [1] + [2] }} {{ 'a' + 'b' }} {{ 1 ~ 2 }}",
         [:],
         "ababab [1, 2] ab 12"),
        ("{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'b' not in 'abc' }} {{ 'k' in {'k': 1} }} {{ 2 in [1, 2] }}",
         [:],
         "True True False True True"),
        ("{{ not 1 == 2 }} {{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }}",
         [:],
         "True x y []"),
        ("{{ 'yes' if x else 'no' }} {{ 'a' if false }}|",
         ["x": 0],
         "no |"),
        ("{{ '%s=%d' % ('n', 3) }} {{ '%05.1f' % 3.14159 }} {{ 'v: %s' % 'x' }}",
         [:],
         "n=3 003.1 v: x"),
        ("{{ m['role'] }} {{ m.role }} {{ m.missing is defined }} {{ xs[-1] }} {{ xs[5] is defined }}",
         ["m": ["role": "user"], "xs": [1, 2, 3]],
         "user user False 3 False"),
        ("{{ xs[1:] }} {{ xs[::-1] }} {{ xs[:-1] }} {{ 'hello'[1:4] }} {{ 'hello'[::2] }} {{ xs[5:] }}",
         ["xs": [1, 2, 3]],
         "[2, 3] [3, 2, 1] [1, 2] ell hlo []"),
        ("{{ 'Zürich'|length }} {{ 'Zürich'[1] }} {{ 'Zürich'|upper }}",
         [:],
         "6 ü ZÜRICH"),
        ("{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 'AbC'|lower }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'hello big-world'|title }}",
         [:],
         "x|a|abc|Hello world|Hello Big-World"),
        ("{{ x|default('d') }} {{ ''|default('e', true) }} {{ none|default('f') }} {{ [1, 2]|join(', ') }} {{ [1, 2]|first }} {{ 'abc'|last }}",
         [:],
         "d e None 1, 2 1 c"),
        ("{{ '42'|int + 1 }} {{ '3.7'|int }} {{ 'x'|int }} {{ 'x'|int(5) }} {{ '2.5'|float }} {{ 3|float }} {{ 42|string ~ '!' }}",
         [:],
         "43 3 0 5 2.5 3.0 42!"),
        ("{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('z', 0) }}",
         ["d": ["a": 1, "b": 2]],
         "a1b2 ['a', 'b'] [1, 2] 1 0"),
        ("{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('+') }}",
         ["ms": [["role": "user", "content": "a"], ["role": "bot", "content": "b"], ["role": "user", "content": "c"]]],
         "a+c"),
        ("{{ ms|rejectattr('tool_calls', 'defined')|list|length }} {{ ms|selectattr('tool_calls')|list|length }}",
         ["ms": [["role": "user"], ["role": "assistant", "tool_calls": [1]]]],
         "1 1"),
        ("{{ [1, 2, 3, 4]|select('even')|list }} {{ ['a', 'b']|map('upper')|join }} {{ ['b', 'A', 'c']|sort|join }} {{ [3, 1, 3]|unique|list }}",
         [:],
         "[2, 4] AB Abc [3, 1]"),
        ("{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true) }}|{{ [1,2,3]|reverse|list }}|{{ [1,2]|sum }}",
         [:],
         "a\n  b|  a\n\n  b|[3, 2, 1]|3"),
        ("{{ {'b': [1, 2.5, none, true], 'a': 'é\\n\"'}|tojson }}",
         [:],
         "{\"b\": [1, 2.5, null, true], \"a\": \"é\\n\\\"\"}"),
        ("{{ {'a': [], 'b': {}, 'c': [1]}|tojson(indent=2) }}",
         [:],
         "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1\n  ]\n}"),
        ("{{ {'b': 1, 'a': 'é'}|tojson(sort_keys=true, ensure_ascii=true) }}",
         [:],
         "{\"a\": \"\\u00e9\", \"b\": 1}"),
        ("{{ none is none }} {{ x is not none }} {{ 'a' is string }} {{ {} is mapping }} {{ 'a' is iterable }} {{ 3 is number }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 1 is sameas true }}",
         ["x": 1],
         "True True True True True True True True False"),
        ("{{ '  a b  '.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a-b'.replace('-', '+') }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ '<think>x</think>y'.split('</think>')[-1] }}|{{ ', '.join(['a', 'b']) }}|{{ 'hello world'.title() }}",
         [:],
         "a b|['a', 'b', '', 'c']|['a', 'b']|True|True|a+b|ABab|y|a, b|Hello World"),
        ("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}",
         ["xs": ["a", "b", "c"]],
         "1/3,2/3,3/3"),
        ("{% for x in xs %}{{ loop.index0 }}{{ loop.first }}{{ loop.revindex }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}",
         ["xs": [1, 2]],
         "0True22;1False11;"),
        ("{% for x in [] %}x{% else %}empty{% endfor %}",
         [:],
         "empty"),
        ("{% for x in range(10) if x is odd %}{% if x > 6 %}{% break %}{% endif %}{% if x == 3 %}{% continue %}{% endif %}{{ x }}{% endfor %}",
         [:],
         "15"),
        ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
         ["d": ["a": 1, "b": 2]],
         "a=1;b=2;ab"),
        ("{% for c in 'ab' %}[{{ c }}]{% endfor %}{% for i in range(2, 8, 3) %}{{ i }}{% endfor %}",
         [:],
         "[a][b]25"),
        ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}",
         [:],
         "231"),
        ("{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
         [:],
         "6"),
        ("{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}",
         [:],
         "set in if"),
        ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}<{{ a }}>{% endset %}{{ block }}",
         [:],
         "12<1>"),
        ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}",
         [:],
         "Hi Ann! Hi Bo?"),
        ("{%- macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}",
         [:],
         "120"),
        ("{% generation %}kept{% endgeneration %}",
         [:],
         "kept"),
        ("{{ dict(a=1)|tojson }} {{ strftime_now is defined }}",
         [:],
         "{\"a\": 1} True"),
        ("  {# c #}\nA",
         [:],
         "A"),
        ("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}",
         [:],
         "  1\n  2\n"),
        ("a {% if true %}b{% endif %}",
         [:],
         "a b"),
        ("\t{% if true %}x{% endif %}",
         [:],
         "x"),
        ("{{ 'a' }}\n{% if true %}b{% endif %}",
         [:],
         "a\nb"),
        ("{% if true %}  \n  x{% endif %}",
         [:],
         "  \n  x"),
        ("x  {%- raw -%}  {{ y }}  {%- endraw -%}  z",
         [:],
         "x{{ y }}z"),
        ("{% if a %}A{% elif b %}B{% else %}C{% endif %}{% if not a and not b %}!{% endif %}",
         ["a": false, "b": true],
         "B"),
        ("{{ messages[0]['content'] if messages|length > 0 else 'none' }}",
         ["messages": [["content": "first"]]],
         "first"),
        ("{% set msgs = messages[1:] %}{{ msgs|length }}{{ messages|length }}",
         ["messages": [1, 2, 3]],
         "23"),
    ]

    func testCasesMatchJinja2() {
        for (template, variables, expected) in Self.jinja2Cases {
            XCTAssertEqual(try render(template, variables), expected, "template: \(template)")
        }
    }

    func testTemplateRendersRepeatedly() throws {
        let template = try ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}")
        let messages = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "assistant", content: "b")]
        let first = try template.render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: "")
        let second = try template.render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: "")
        XCTAssertEqual(first, "user:a;assistant:b;")
        XCTAssertEqual(second, first)
    }

    func testRenderDefinesTransformersVariables() throws {
        let source = "{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token }}{{ eos_token }}"
        let rendered = try ChatTemplate(source).render(messages: [], addGenerationPrompt: true, bosToken: "<s>",
                                                       eosToken: "</s>")
        XCTAssertEqual(rendered, "True True True <s></s>")
    }

    func testExtraVariablesOverrideDefaults() throws {
        let rendered = try ChatTemplate("{{ tools|length }} {{ custom }}").render(
            messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "",
            extraVariables: ["tools": ["a", "b"], "custom": 1.5])
        XCTAssertEqual(rendered, "2 1.5")
    }

    func testStrftimeNowUsesFixedDate() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let date = try XCTUnwrap(calendar.date(from: DateComponents(year: 2024, month: 7, day: 5, hour: 15, minute: 4)))
        let template = try ChatTemplate(#"{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%A %B %-d, %I:%M %p") }}"#)
        template.fixedDate = date
        XCTAssertEqual(try template.render(variables: [:]), "05 Jul 2024|Friday July 5, 03:04 PM")
    }

    func testFloatRepresentationMatchesPython() throws {
        let cases: [(Double, String)] = [
            (0.0001, "0.0001"), (0.00001, "1e-05"), (123456789.125, "123456789.125"), (1e22, "1e+22"),
            (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (2.5e-7, "2.5e-07"),
            (100.0, "100.0"), (-1.25, "-1.25"), (1.0 / 3.0, "0.3333333333333333"),
            (9007199254740992.0, "9007199254740992.0"), (9.999999999999999e15, "1e+16"), (-0.0, "-0.0"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(try render("{{ x }}", ["x": .double(value)]), expected, "value \(value)")
        }
    }

    // MARK: - Errors

    func testSyntaxErrorReportsLine() {
        XCTAssertThrowsError(try ChatTemplate("{% if x %}\n{{ 1 + }}\n{% endif %}")) { error in
            guard case .syntax(_, let line)? = error as? ChatTemplateError else {
                return XCTFail("expected a syntax error, got \(error)")
            }
            XCTAssertEqual(line, 2)
        }
    }

    func testMissingEndTagIsSyntaxError() {
        XCTAssertThrowsError(try ChatTemplate("{% for x in xs %}{{ x }}")) { error in
            guard case .syntax(let message, _)? = error as? ChatTemplateError else {
                return XCTFail("expected a syntax error, got \(error)")
            }
            XCTAssertTrue(message.contains("endfor"), message)
        }
    }

    func testMalformedTemplatesAreSyntaxErrors() {
        for source in ["{{ 'open", "{# no end", "{% break %}", "{% frobnicate %}", "{{ a ) }}", "{{ }}", "{% if %}{% endif %}"] {
            XCTAssertThrowsError(try ChatTemplate(source), source) { error in
                guard case .syntax? = error as? ChatTemplateError else {
                    return XCTFail("expected a syntax error for \(source), got \(error)")
                }
            }
        }
    }

    func testUnsupportedStatementNamedAtParse() {
        XCTAssertThrowsError(try ChatTemplate("text\n{% include 'other.jinja' %}")) { error in
            XCTAssertEqual(error as? ChatTemplateError,
                           .unsupported(construct: "the '{% include %}' statement", line: 2))
        }
    }

    func testUnsupportedFilterNamedAtRender() throws {
        let template = try ChatTemplate("{% if long %}{{ text|wordwrap(20) }}{% endif %}")
        XCTAssertEqual(try template.render(variables: ["long": false]), "")
        XCTAssertThrowsError(try template.render(variables: ["long": true, "text": "abc"])) { error in
            XCTAssertEqual(error as? ChatTemplateError, .unsupported(construct: "the 'wordwrap' filter", line: 1))
        }
    }

    func testUnsupportedTestAndMethodsNamed() {
        assertRenderError("{{ x is escaped }}", ["x": "a"], .unsupported(construct: "the 'escaped' test", line: 1))
        assertRenderError("{{ 'a{}'.format(1) }}", [:], .unsupported(construct: "the str method 'format'", line: 1))
        assertRenderError("{{ xs.append(1) }}", ["xs": []], .unsupported(construct: "the list method 'append'", line: 1))
    }

    func testRaiseExceptionCarriesMessage() {
        assertRenderError("{{ raise_exception('Roles must alternate: ' ~ n) }}", ["n": 3],
                          .raised("Roles must alternate: 3"))
    }

    func testUndefinedAttributeChainFails() {
        XCTAssertThrowsError(try render("{{ message.content.text }}")) { error in
            guard case .undefinedValue(let message, let line)? = error as? ChatTemplateError else {
                return XCTFail("expected an undefined value error, got \(error)")
            }
            XCTAssertTrue(message.contains("'message' is undefined"), message)
            XCTAssertEqual(line, 1)
        }
    }

    func testTypeMismatchNamesOperands() {
        XCTAssertThrowsError(try render("{{ 'n=' + n }}", ["n": 3])) { error in
            guard case .typeMismatch(let message, _)? = error as? ChatTemplateError else {
                return XCTFail("expected a type mismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("'str' and 'int'"), message)
        }
    }

    func testNamespaceAssignmentNeedsNamespace() {
        XCTAssertThrowsError(try render("{% set d = {} %}{% set d.x = 1 %}")) { error in
            guard case .typeMismatch(let message, _)? = error as? ChatTemplateError else {
                return XCTFail("expected a type mismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("namespace()"), message)
        }
    }

    func testErrorDescriptionNamesConstructAndLine() {
        let description = ChatTemplateError.unsupported(construct: "the 'wordwrap' filter", line: 7).description
        XCTAssertTrue(description.contains("the 'wordwrap' filter"), description)
        XCTAssertTrue(description.contains("line 7"), description)
    }

    // MARK: - Limits

    func testHugeRangeIsRejected() {
        assertRenderError("{% for i in range(10000000000) %}{% endfor %}", [:],
                          .limitExceeded("range(10000000000) would have more than 1000000 items", line: 1))
    }

    func testHugeRepetitionIsRejected() {
        XCTAssertThrowsError(try render("{{ 'abc' * 100000000 }}")) { error in
            guard case .limitExceeded? = error as? ChatTemplateError else {
                return XCTFail("expected a limit error, got \(error)")
            }
        }
    }

    func testDeepNestingIsRejected() {
        let source = "{{ " + String(repeating: "(", count: 1000) + "1" + String(repeating: ")", count: 1000) + " }}"
        XCTAssertThrowsError(try ChatTemplate(source)) { error in
            guard case .limitExceeded? = error as? ChatTemplateError else {
                return XCTFail("expected a limit error, got \(error)")
            }
        }
    }

    func testRunawayMacroRecursionIsRejected() {
        XCTAssertThrowsError(try render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")) { error in
            guard case .limitExceeded? = error as? ChatTemplateError else {
                return XCTFail("expected a limit error, got \(error)")
            }
        }
    }

    func testIntegerOverflowIsRejected() {
        XCTAssertThrowsError(try render("{{ 9223372036854775807 + 1 }}")) { error in
            guard case .limitExceeded? = error as? ChatTemplateError else {
                return XCTFail("expected a limit error, got \(error)")
            }
        }
    }
}
