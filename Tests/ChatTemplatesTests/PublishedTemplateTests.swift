import ChatTemplates
import XCTest

/// Renders the published chat templates of four model families and compares with the exact
/// prompt text. The expected strings were derived by reading each template, then checked
/// against transformers 5.25.0 `render_jinja_template` (jinja2 3.1.6 with trim_blocks=True and
/// lstrip_blocks=True, as `apply_chat_template` sets them) by
/// scripts/golden/check_chat_templates.py, which reads this file.
final class PublishedTemplateTests: XCTestCase {
    static let withSystem = [
        ChatMessage(role: "system", content: "You are a concise assistant."),
        ChatMessage(role: "user", content: "What is the capital of France?"),
        ChatMessage(role: "assistant", content: "The capital of France is Paris."),
        ChatMessage(role: "user", content: "And of Italy?"),
    ]

    /// Surrounding whitespace in the contents shows which templates trim messages.
    static let withoutSystem = [
        ChatMessage(role: "user", content: "Hi there!"),
        ChatMessage(role: "assistant", content: "Hello! How can I help?\n"),
        ChatMessage(role: "user", content: "  Tell me a joke.  "),
        ChatMessage(role: "assistant", content: "Why did the chicken cross the road?"),
    ]

    static let weatherTool: JinjaValue = [
        "type": "function",
        "function": [
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": [
                "type": "object",
                "properties": ["city": ["type": "string", "description": "City name, e.g. Zürich"]],
                "required": ["city"],
            ],
        ],
    ]

    // MARK: - SmolLM2

    func testSmolLM2WithSystem() throws {
        let template = try ChatTemplate(Self.smolLM2Template)
        let rendered = try template.render(messages: Self.withSystem, addGenerationPrompt: true,
                                           bosToken: "<|im_start|>", eosToken: "<|im_end|>")
        XCTAssertEqual(rendered, Self.smolLM2WithSystemExpected)
    }

    func testSmolLM2DefaultSystemPrompt() throws {
        let template = try ChatTemplate(Self.smolLM2Template)
        let rendered = try template.render(messages: Self.withoutSystem, addGenerationPrompt: false,
                                           bosToken: "<|im_start|>", eosToken: "<|im_end|>")
        XCTAssertEqual(rendered, Self.smolLM2WithoutSystemExpected)
    }

    // MARK: - Llama 3.1

    func testLlama31WithSystemAndDate() throws {
        let template = try ChatTemplate(Self.llama31Template)
        let rendered = try template.render(messages: Self.withSystem, addGenerationPrompt: true,
                                           bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>",
                                           extraVariables: ["date_string": "15 Mar 2025"])
        XCTAssertEqual(rendered, Self.llama31WithSystemExpected)
    }

    func testLlama31DefaultDateAndTrim() throws {
        let template = try ChatTemplate(Self.llama31Template)
        let rendered = try template.render(messages: Self.withoutSystem, addGenerationPrompt: false,
                                           bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>")
        XCTAssertEqual(rendered, Self.llama31WithoutSystemExpected)
    }

    func testLlama31ToolsInUserMessage() throws {
        let template = try ChatTemplate(Self.llama31Template)
        let rendered = try template.render(
            messages: [ChatMessage(role: "user", content: "Weather in Zürich?")], addGenerationPrompt: true,
            bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>",
            extraVariables: ["date_string": "15 Mar 2025", "tools": [Self.weatherTool]])
        XCTAssertEqual(rendered, Self.llama31ToolsExpected)
    }

    // MARK: - Mistral v0.3

    func testMistralV03SystemInLastUserTurn() throws {
        let template = try ChatTemplate(Self.mistralV03Template)
        let rendered = try template.render(messages: Self.withSystem, addGenerationPrompt: true,
                                           bosToken: "<s>", eosToken: "</s>")
        XCTAssertEqual(rendered, Self.mistralV03WithSystemExpected)
    }

    func testMistralV03WithoutSystem() throws {
        let template = try ChatTemplate(Self.mistralV03Template)
        let rendered = try template.render(messages: Self.withoutSystem, addGenerationPrompt: false,
                                           bosToken: "<s>", eosToken: "</s>")
        XCTAssertEqual(rendered, Self.mistralV03WithoutSystemExpected)
    }

    func testMistralV03RejectsRepeatedRole() throws {
        let template = try ChatTemplate(Self.mistralV03Template)
        let messages = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")]
        XCTAssertThrowsError(try template.render(messages: messages, addGenerationPrompt: true,
                                                 bosToken: "<s>", eosToken: "</s>")) { error in
            XCTAssertEqual(error as? ChatTemplateError, .raised(
                "After the optional system message, conversation roles must alternate user/assistant/user/assistant/..."))
        }
    }

    func testMistralV03ToolCallAndResult() throws {
        let template = try ChatTemplate(Self.mistralV03Template)
        let messages: JinjaValue = [
            ["role": "user", "content": "Weather in Zürich?"],
            ["role": "assistant", "tool_calls": [
                ["id": "call00001", "type": "function",
                 "function": ["name": "get_weather", "arguments": ["city": "Zürich"]]],
            ]],
            ["role": "tool", "tool_call_id": "call00001", "content": "21.5"],
            ["role": "assistant", "content": "It is 21.5 °C."],
            ["role": "user", "content": "Thanks!"],
        ]
        let rendered = try template.render(variables: [
            "messages": messages, "tools": [Self.weatherTool], "documents": nil, "add_generation_prompt": false,
            "bos_token": "<s>", "eos_token": "</s>",
        ])
        XCTAssertEqual(rendered, Self.mistralV03ToolsExpected)
    }

    // MARK: - Qwen2.5

    func testQwen25WithSystem() throws {
        let template = try ChatTemplate(Self.qwen25Template)
        let rendered = try template.render(messages: Self.withSystem, addGenerationPrompt: true,
                                           bosToken: "<|endoftext|>", eosToken: "<|im_end|>")
        XCTAssertEqual(rendered, Self.qwen25WithSystemExpected)
    }

    func testQwen25DefaultSystemPrompt() throws {
        let template = try ChatTemplate(Self.qwen25Template)
        let rendered = try template.render(messages: Self.withoutSystem, addGenerationPrompt: false,
                                           bosToken: "<|endoftext|>", eosToken: "<|im_end|>")
        XCTAssertEqual(rendered, Self.qwen25WithoutSystemExpected)
    }

    func testQwen25ToolCallAndResponse() throws {
        let template = try ChatTemplate(Self.qwen25Template)
        let messages: JinjaValue = [
            ["role": "user", "content": "Weather in Zürich?"],
            ["role": "assistant", "tool_calls": [
                ["type": "function", "function": ["name": "get_weather", "arguments": ["city": "Zürich"]]],
            ]],
            ["role": "tool", "content": #"{"temperature": 21.5}"#],
        ]
        let rendered = try template.render(variables: [
            "messages": messages, "tools": [Self.weatherTool], "documents": nil, "add_generation_prompt": true,
            "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>",
        ])
        XCTAssertEqual(rendered, Self.qwen25ToolsExpected)
    }
}

// MARK: - Template texts

/// The templates exactly as published in each model's tokenizer configuration on the Hugging Face
/// hub (test data). The Llama, Mistral and Qwen texts were taken from public repositories that
/// vendor those tokenizer configurations, two independent copies each.
extension PublishedTemplateTests {
    /// HuggingFaceTB/SmolLM2-135M-Instruct, read from the `tokenizer.chat_template` key of SmolLM2-135M-Instruct.Q4_1.gguf.
    static let smolLM2Template = #"""
{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}
"""#

    /// meta-llama/Llama-3.1-8B-Instruct, tokenizer_config.json.
    static let llama31Template = #"""
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}

"""#

    /// mistralai/Mistral-7B-Instruct-v0.3, tokenizer_config.json.
    static let mistralV03Template = #"""
{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}

"""#

    /// Qwen/Qwen2.5-7B-Instruct, tokenizer_config.json.
    static let qwen25Template = #"""
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}

"""#
}

// MARK: - Expected renderings

extension PublishedTemplateTests {
    static let smolLM2WithSystemExpected =
        "<|im_start|>system\n"
        + "You are a concise assistant.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "What is the capital of France?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "The capital of France is Paris.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "And of Italy?<|im_end|>\n"
        + "<|im_start|>assistant\n"

    static let smolLM2WithoutSystemExpected =
        "<|im_start|>system\n"
        + "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        + "<|im_start|>user\n"
        + "Hi there!<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Hello! How can I help?\n"
        + "<|im_end|>\n"
        + "<|im_start|>user\n"
        + "  Tell me a joke.  <|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Why did the chicken cross the road?<|im_end|>\n"

    static let llama31WithSystemExpected =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        + "\n"
        + "Cutting Knowledge Date: December 2023\n"
        + "Today Date: 15 Mar 2025\n"
        + "\n"
        + "You are a concise assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "What is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"
        + "The capital of France is Paris.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "And of Italy?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"

    static let llama31WithoutSystemExpected =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        + "\n"
        + "Cutting Knowledge Date: December 2023\n"
        + "Today Date: 26 Jul 2024\n"
        + "\n"
        + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "Hi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"
        + "Hello! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "Tell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"
        + "Why did the chicken cross the road?<|eot_id|>"

    static let llama31ToolsExpected =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
        + "\n"
        + "Environment: ipython\n"
        + "Cutting Knowledge Date: December 2023\n"
        + "Today Date: 15 Mar 2025\n"
        + "\n"
        + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n"
        + "\n"
        + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n"
        + "\n"
        + "{\n"
        + "    \"type\": \"function\",\n"
        + "    \"function\": {\n"
        + "        \"name\": \"get_weather\",\n"
        + "        \"description\": \"Get the current weather in a city.\",\n"
        + "        \"parameters\": {\n"
        + "            \"type\": \"object\",\n"
        + "            \"properties\": {\n"
        + "                \"city\": {\n"
        + "                    \"type\": \"string\",\n"
        + "                    \"description\": \"City name, e.g. Zürich\"\n"
        + "                }\n"
        + "            },\n"
        + "            \"required\": [\n"
        + "                \"city\"\n"
        + "            ]\n"
        + "        }\n"
        + "    }\n"
        + "}\n"
        + "\n"
        + "Weather in Zürich?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"

    static let mistralV03WithSystemExpected =
        "<s>[INST] What is the capital of France?[/INST] The capital of France is Paris.</s>[INST] You are a concise assistant.\n"
        + "\n"
        + "And of Italy?[/INST]"

    static let mistralV03WithoutSystemExpected =
        "<s>[INST] Hi there![/INST] Hello! How can I help?</s>[INST]   Tell me a joke.  [/INST] Why did the chicken cross the road?</s>"

    static let mistralV03ToolsExpected =
        "<s>[INST] Weather in Zürich?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}, \"id\": \"call00001\"}]</s>[TOOL_RESULTS] {\"content\": 21.5, \"call_id\": \"call00001\"}[/TOOL_RESULTS] It is 21.5 °C.</s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. Zürich\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST] Thanks![/INST]"

    static let qwen25WithSystemExpected =
        "<|im_start|>system\n"
        + "You are a concise assistant.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "What is the capital of France?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "The capital of France is Paris.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "And of Italy?<|im_end|>\n"
        + "<|im_start|>assistant\n"

    static let qwen25WithoutSystemExpected =
        "<|im_start|>system\n"
        + "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "Hi there!<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Hello! How can I help?\n"
        + "<|im_end|>\n"
        + "<|im_start|>user\n"
        + "  Tell me a joke.  <|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Why did the chicken cross the road?<|im_end|>\n"

    static let qwen25ToolsExpected =
        "<|im_start|>system\n"
        + "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n"
        + "\n"
        + "# Tools\n"
        + "\n"
        + "You may call one or more functions to assist with the user query.\n"
        + "\n"
        + "You are provided with function signatures within <tools></tools> XML tags:\n"
        + "<tools>\n"
        + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name, e.g. Zürich\"}}, \"required\": [\"city\"]}}}\n"
        + "</tools>\n"
        + "\n"
        + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
        + "<tool_call>\n"
        + "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
        + "</tool_call><|im_end|>\n"
        + "<|im_start|>user\n"
        + "Weather in Zürich?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "<tool_call>\n"
        + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n"
        + "</tool_call><|im_end|>\n"
        + "<|im_start|>user\n"
        + "<tool_response>\n"
        + "{\"temperature\": 21.5}\n"
        + "</tool_response><|im_end|>\n"
        + "<|im_start|>assistant\n"
}
