#!/usr/bin/env python3
"""Cross-check the chat template tests against Hugging Face transformers.

Reads the template texts and expected renderings from
Tests/ChatTemplatesTests/PublishedTemplateTests.swift, renders the same conversations with
transformers' `render_jinja_template` (jinja2 with trim_blocks=True and lstrip_blocks=True, as
`apply_chat_template` uses), and reports every expected string that differs. With --print it
prints the renderings as Swift string literals instead.

Usage: /tmp/goldenv/bin/python scripts/golden/check_chat_templates.py [--print]
Needs transformers (tested with 5.25.0) and jinja2 (tested with 3.1.6); the tests never run it.
"""
import re
import sys
from pathlib import Path

from transformers.utils.chat_template_utils import render_jinja_template

TEST_FILE = Path(__file__).resolve().parents[2] / "Tests/ChatTemplatesTests/PublishedTemplateTests.swift"

WITH_SYSTEM = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy?"},
]
WITHOUT_SYSTEM = [
    {"role": "user", "content": "Hi there!"},
    {"role": "assistant", "content": "Hello! How can I help?\n"},
    {"role": "user", "content": "  Tell me a joke.  "},
    {"role": "assistant", "content": "Why did the chicken cross the road?"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. Zürich"}},
            "required": ["city"],
        },
    },
}
TOOL_CONVERSATION = [
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "content": '{"temperature": 21.5}'},
]
MISTRAL_TOOL_CONVERSATION = [
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "tool_calls": [{"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "tool_call_id": "call00001", "content": "21.5"},
    {"role": "assistant", "content": "It is 21.5 °C."},
    {"role": "user", "content": "Thanks!"},
]
TOKENS = {
    "smolLM2": ("<|im_start|>", "<|im_end|>"),
    "llama31": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistralV03": ("<s>", "</s>"),
    "qwen25": ("<|endoftext|>", "<|im_end|>"),
}
# (expected constant, template constant, messages, add_generation_prompt, tools, extra variables)
CASES = [
    ("smolLM2WithSystem", "smolLM2", WITH_SYSTEM, True, None, {}),
    ("smolLM2WithoutSystem", "smolLM2", WITHOUT_SYSTEM, False, None, {}),
    ("llama31WithSystem", "llama31", WITH_SYSTEM, True, None, {"date_string": "15 Mar 2025"}),
    ("llama31WithoutSystem", "llama31", WITHOUT_SYSTEM, False, None, {}),
    ("llama31Tools", "llama31", TOOL_CONVERSATION[:1], True, [WEATHER_TOOL], {"date_string": "15 Mar 2025"}),
    ("mistralV03WithSystem", "mistralV03", WITH_SYSTEM, True, None, {}),
    ("mistralV03WithoutSystem", "mistralV03", WITHOUT_SYSTEM, False, None, {}),
    ("mistralV03Tools", "mistralV03", MISTRAL_TOOL_CONVERSATION, False, [WEATHER_TOOL], {}),
    ("qwen25WithSystem", "qwen25", WITH_SYSTEM, True, None, {}),
    ("qwen25WithoutSystem", "qwen25", WITHOUT_SYSTEM, False, None, {}),
    ("qwen25Tools", "qwen25", TOOL_CONVERSATION, True, [WEATHER_TOOL], {}),
]


def swift_literal(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    lines = escaped.split("\n")
    pieces = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    return "\n    + ".join(f'"{piece}"' for piece in pieces) or '""'


def swift_unescape(body):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


def main():
    source = TEST_FILE.read_text()
    templates = {name: text for name, text in re.findall(r'static let (\w+)Template = #"""\n(.*?)\n"""#', source, re.S)}
    expected = {}
    for name, body in re.findall(r'static let (\w+)Expected =\s*((?:"(?:[^"\\]|\\.)*"\s*\+?\s*)+)', source):
        expected[name] = "".join(swift_unescape(piece) for piece in re.findall(r'"((?:[^"\\]|\\.)*)"', body))

    failures = 0
    for case, template, messages, generation, tools, extra in CASES:
        bos, eos = TOKENS[template]
        rendered, _ = render_jinja_template(
            conversations=[messages], tools=tools, chat_template=templates[template],
            add_generation_prompt=generation, bos_token=bos, eos_token=eos, **extra)
        text = rendered[0]
        if "--print" in sys.argv:
            print(f"static let {case}Expected =\n    {swift_literal(text)}\n")
        elif expected.get(case) != text:
            failures += 1
            print(f"MISMATCH {case}:\n  transformers: {text!r}\n  test file:    {expected.get(case)!r}")
    if "--print" not in sys.argv:
        print(f"{len(CASES) - failures} of {len(CASES)} expected renderings match transformers")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
