"""The official SDKs against the gateway: every inbound protocol × every upstream protocol.

The mock upstream answers `"Echo: " + <last user text>`, or one call of the first tool with
`{"city":"Paris"}` when tools are declared and the last user text mentions the weather.
"""

import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

PROMPT = "Say hello to the matrix"
EXPECTED = "Echo: " + PROMPT
WEATHER = "What is the weather in Paris?"
WEATHER_ECHO = "Echo: " + WEATHER
TOOL_ARGS = {"city": "Paris"}
TOOL_RESULT = {"temperature_c": 21, "sky": "clear"}

INBOUND = ["openai", "anthropic", "gemini"]
UPSTREAM = ["via-openai", "via-anthropic", "via-gemini"]
MATRIX = [pytest.param(i, u, id=f"{i}>{u.removeprefix('via-')}") for i in INBOUND for u in UPSTREAM]
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


# --- one adapter per SDK: the same operations, each in that SDK's own idiom ------------------


class OpenAISdk:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city", "parameters": CITY_SCHEMA}}]

    def __init__(self, stack, key=None):
        self.client = openai.OpenAI(api_key=key or stack.key, base_url=stack.base + "/v1",
                                    max_retries=0, timeout=20)

    @staticmethod
    def check_usage(u):
        assert u is not None, "no usage"
        assert u.prompt_tokens > 0 and u.completion_tokens > 0, u
        assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
        return (u.prompt_tokens, u.completion_tokens)

    def text(self, model):
        r = self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}])
        assert r.model == model
        assert len(r.choices) == 1 and r.choices[0].message.role == "assistant"
        assert r.choices[0].finish_reason == "stop"
        return r.choices[0].message.content, r.usage

    def stream(self, model):
        stream = self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}],
            stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        assert chunks, "empty stream"
        usage_chunks = [c for c in chunks if c.usage is not None]
        assert len(usage_chunks) == 1, f"{len(usage_chunks)} usage chunks"
        assert chunks[-1].usage is not None and chunks[-1].choices == [], "usage chunk not last"
        finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
        assert finishes == ["stop"], finishes
        roles = [ch.delta.role for c in chunks for ch in c.choices if ch.delta.role]
        assert roles == ["assistant"] and chunks[0].choices[0].delta.role, roles
        text = "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
        return text, usage_chunks[0].usage

    def _first_turn(self):
        return [{"role": "user", "content": WEATHER}]

    def tool_call(self, model):
        messages = self._first_turn()
        r = self.client.chat.completions.create(model=model, messages=messages, tools=self.tools)
        msg = r.choices[0].message
        assert r.choices[0].finish_reason == "tool_calls", r.choices[0].finish_reason
        assert msg.tool_calls and len(msg.tool_calls) == 1, msg
        call = msg.tool_calls[0]
        assert call.type == "function" and call.id
        self.check_usage(r.usage)
        return call.function.name, json.loads(call.function.arguments), (messages, msg, call)

    def tool_result(self, model, state):
        messages, msg, call = state
        messages = messages + [msg, {"role": "tool", "tool_call_id": call.id,
                                     "content": json.dumps(TOOL_RESULT)}]
        r = self.client.chat.completions.create(model=model, messages=messages, tools=self.tools)
        assert r.choices[0].finish_reason == "stop", r.choices[0].finish_reason
        assert not r.choices[0].message.tool_calls
        return r.choices[0].message.content

    def tool_call_stream(self, model):
        # The SDK's stream helper accumulates deltas: doubled ids or lost fragments show here.
        with self.client.chat.completions.stream(
                model=model, messages=self._first_turn(), tools=self.tools) as s:
            final = s.get_final_completion()
        assert final.choices[0].finish_reason == "tool_calls", final.choices[0].finish_reason
        calls = final.choices[0].message.tool_calls
        assert calls and len(calls) == 1, final.choices[0].message
        assert calls[0].id and calls[0].type == "function"
        return calls[0].function.name, json.loads(calls[0].function.arguments)

    def expect(self, status, call):
        cls = {401: openai.AuthenticationError, 404: openai.NotFoundError}[status]
        with pytest.raises(cls) as e:
            call()
        assert e.value.status_code == status
        assert isinstance(e.value.body, dict) and e.value.body.get("message"), e.value.body
        return e.value


class AnthropicSdk:
    tools = [{"name": "get_weather", "description": "Current weather in a city",
              "input_schema": CITY_SCHEMA}]

    def __init__(self, stack, key=None):
        self.client = anthropic.Anthropic(api_key=key or stack.key, base_url=stack.base,
                                          max_retries=0, timeout=20)

    @staticmethod
    def check_usage(u):
        assert u is not None, "no usage"
        assert u.input_tokens > 0 and u.output_tokens > 0, u
        return (u.input_tokens, u.output_tokens)

    @staticmethod
    def _text(message):
        return "".join(b.text for b in message.content if b.type == "text")

    def text(self, model):
        r = self.client.messages.create(
            model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}])
        assert r.model == model and r.role == "assistant" and r.type == "message"
        assert r.stop_reason == "end_turn", r.stop_reason
        assert [b.type for b in r.content] == ["text"], r.content
        return self._text(r), r.usage

    def stream(self, model):
        with self.client.messages.stream(
                model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}]) as s:
            joined = "".join(s.text_stream)
            final = s.get_final_message()
        assert final.stop_reason == "end_turn", final.stop_reason
        assert self._text(final) == joined, (self._text(final), joined)
        return joined, final.usage

    def tool_call(self, model):
        messages = [{"role": "user", "content": WEATHER}]
        r = self.client.messages.create(model=model, max_tokens=256, messages=messages,
                                        tools=self.tools)
        assert r.stop_reason == "tool_use", r.stop_reason
        uses = [b for b in r.content if b.type == "tool_use"]
        assert len(uses) == 1, r.content
        assert uses[0].id
        self.check_usage(r.usage)
        return uses[0].name, uses[0].input, (messages, r, uses[0])

    def tool_result(self, model, state):
        messages, first, use = state
        messages = messages + [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                          "content": json.dumps(TOOL_RESULT)}]},
        ]
        r = self.client.messages.create(model=model, max_tokens=256, messages=messages,
                                        tools=self.tools)
        assert r.stop_reason == "end_turn", r.stop_reason
        assert all(b.type == "text" for b in r.content), r.content
        return self._text(r)

    def tool_call_stream(self, model):
        with self.client.messages.stream(
                model=model, max_tokens=256, messages=[{"role": "user", "content": WEATHER}],
                tools=self.tools) as s:
            final = s.get_final_message()
        assert final.stop_reason == "tool_use", final.stop_reason
        uses = [b for b in final.content if b.type == "tool_use"]
        assert len(uses) == 1, final.content
        assert uses[0].id
        return uses[0].name, uses[0].input

    def expect(self, status, call):
        cls = {401: anthropic.AuthenticationError, 404: anthropic.NotFoundError}[status]
        kind = {401: "authentication_error", 404: "not_found_error"}[status]
        with pytest.raises(cls) as e:
            call()
        assert e.value.status_code == status
        assert isinstance(e.value.body, dict) and e.value.body.get("type") == "error", e.value.body
        assert e.value.body["error"]["type"] == kind, e.value.body
        return e.value


class GeminiSdk:
    tool_config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
            name="get_weather", description="Current weather in a city",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"city": types.Schema(type=types.Type.STRING, description="City name")},
                required=["city"]))])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))

    def __init__(self, stack, key=None, api_version="v1beta"):
        opts = {"base_url": stack.base, "timeout": 20_000}
        if api_version is not None:
            opts["api_version"] = api_version
        self.client = genai.Client(api_key=key or stack.key,
                                   http_options=types.HttpOptions(**opts))

    @staticmethod
    def check_usage(u):
        assert u is not None, "no usage_metadata"
        assert (u.prompt_token_count or 0) > 0 and (u.candidates_token_count or 0) > 0, u
        assert u.total_token_count == (u.prompt_token_count + u.candidates_token_count
                                       + (u.thoughts_token_count or 0)
                                       + (u.tool_use_prompt_token_count or 0)), u
        return (u.prompt_token_count, u.candidates_token_count)

    @staticmethod
    def _text(content):
        return "".join(p.text for p in (content.parts or []) if p.text and not p.thought)

    def text(self, model):
        r = self.client.models.generate_content(model=model, contents=PROMPT)
        assert len(r.candidates) == 1, r
        c = r.candidates[0]
        assert c.finish_reason == types.FinishReason.STOP, c.finish_reason
        assert c.content.role == "model", c.content.role
        return self._text(c.content), r.usage_metadata

    def stream(self, model):
        chunks = list(self.client.models.generate_content_stream(model=model, contents=PROMPT))
        assert chunks, "empty stream"
        text = "".join(self._text(ch.candidates[0].content) for ch in chunks
                       if ch.candidates and ch.candidates[0].content)
        finishes = [ch.candidates[0].finish_reason for ch in chunks
                    if ch.candidates and ch.candidates[0].finish_reason]
        assert finishes == [types.FinishReason.STOP], finishes
        usages = [ch.usage_metadata for ch in chunks if ch.usage_metadata]
        return text, (usages[-1] if usages else None)

    def tool_call(self, model):
        contents = [types.Content(role="user", parts=[types.Part.from_text(text=WEATHER)])]
        r = self.client.models.generate_content(model=model, contents=contents,
                                                config=self.tool_config)
        calls = r.function_calls
        assert calls and len(calls) == 1, r
        assert r.candidates[0].finish_reason == types.FinishReason.STOP, r.candidates[0].finish_reason
        self.check_usage(r.usage_metadata)
        return calls[0].name, dict(calls[0].args or {}), (contents, r.candidates[0].content, calls[0])

    def tool_result(self, model, state):
        # The SDK's own automatic function calling sends the name only (no id): do the same.
        contents, model_turn, call = state
        contents = contents + [model_turn, types.Content(role="user", parts=[
            types.Part.from_function_response(name=call.name, response={"result": TOOL_RESULT})])]
        r = self.client.models.generate_content(model=model, contents=contents,
                                                config=self.tool_config)
        assert not r.function_calls, r
        assert r.candidates[0].finish_reason == types.FinishReason.STOP, r.candidates[0].finish_reason
        return self._text(r.candidates[0].content)

    def tool_call_stream(self, model):
        chunks = list(self.client.models.generate_content_stream(
            model=model, contents=WEATHER, config=self.tool_config))
        calls = [p.function_call for ch in chunks if ch.candidates and ch.candidates[0].content
                 for p in (ch.candidates[0].content.parts or []) if p.function_call]
        assert len(calls) == 1, chunks
        return calls[0].name, dict(calls[0].args or {})

    def expect(self, status, call):
        with pytest.raises(genai_errors.ClientError) as e:
            call()
        assert e.value.code == status, (e.value.code, e.value.details)
        kind = {401: "UNAUTHENTICATED", 404: "NOT_FOUND"}[status]
        assert e.value.status == kind, e.value.details
        return e.value


SDKS = {"openai": OpenAISdk, "anthropic": AnthropicSdk, "gemini": GeminiSdk}


def sdk(inbound, stack, **kw):
    return SDKS[inbound](stack, **kw)


# --- the matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("inbound,model", MATRIX)
def test_text(stack, inbound, model):
    s = sdk(inbound, stack)
    text, usage = s.text(model)
    assert text == EXPECTED
    s.check_usage(usage)


@pytest.mark.parametrize("inbound,model", MATRIX)
def test_stream_text(stack, inbound, model):
    s = sdk(inbound, stack)
    text, usage = s.stream(model)
    assert text == EXPECTED
    s.check_usage(usage)


@pytest.mark.parametrize("inbound,model", MATRIX)
def test_usage_stream_equals_non_stream(stack, inbound, model):
    """The same request bills the same tokens whether streamed or not (the mock is deterministic)."""
    s = sdk(inbound, stack)
    _, plain = s.text(model)
    _, streamed = s.stream(model)
    assert s.check_usage(streamed) == s.check_usage(plain)


@pytest.mark.parametrize("inbound", INBOUND)
def test_usage_same_across_upstreams(stack, inbound):
    """The mock counts tokens alike in every protocol, so one SDK sees the same usage whichever
    upstream protocol served it: the converters neither lose nor double a bucket."""
    s = sdk(inbound, stack)
    seen = {model: s.check_usage(s.text(model)[1]) for model in UPSTREAM}
    assert len(set(seen.values())) == 1, seen


@pytest.mark.parametrize("inbound,model", MATRIX)
def test_tools_round_trip(stack, inbound, model):
    s = sdk(inbound, stack)
    name, args, state = s.tool_call(model)
    assert name == "get_weather"
    assert args == TOOL_ARGS
    answer = s.tool_result(model, state)
    assert answer == WEATHER_ECHO


@pytest.mark.parametrize("inbound,model", MATRIX)
def test_tool_call_stream(stack, inbound, model):
    name, args = sdk(inbound, stack).tool_call_stream(model)
    assert name == "get_weather"
    assert args == TOOL_ARGS


# --- errors, once per inbound SDK --------------------------------------------------------------


@pytest.mark.parametrize("inbound", INBOUND)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_wrong_key_is_401(stack, inbound, stream):
    s = sdk(inbound, stack, key="sk-wrong-key")
    s.expect(401, lambda: (s.stream if stream else s.text)("via-openai"))


@pytest.mark.parametrize("inbound", INBOUND)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_unknown_model_is_404(stack, inbound, stream):
    s = sdk(inbound, stack)
    s.expect(404, lambda: (s.stream if stream else s.text)("no-such-model"))


# --- SDK defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", UPSTREAM)
def test_openai_stream_without_include_usage_has_no_usage_chunk(stack, model):
    """The gateway forces include_usage upstream and removes the chunk again unless asked."""
    chunks = list(OpenAISdk(stack).client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], stream=True))
    assert all(c.usage is None for c in chunks), [c.usage for c in chunks]
    assert all(c.choices for c in chunks), "a chunk with choices: []"
    assert "".join(ch.delta.content or "" for c in chunks for ch in c.choices) == EXPECTED


@pytest.mark.parametrize("model", UPSTREAM)
def test_gemini_default_api_version(stack, model):
    """google-genai without an explicit api_version (v1 since 3.0) reaches the gateway too."""
    s = GeminiSdk(stack, api_version=None)
    text, usage = s.text(model)
    assert text == EXPECTED
    s.check_usage(usage)
    text, usage = s.stream(model)
    assert text == EXPECTED


def test_gemini_model_with_prefix(stack):
    """`models/{id}` as the model string: the SDK keeps the prefix, the gateway strips it."""
    text, _ = GeminiSdk(stack).text("models/via-openai")
    assert text == EXPECTED


def test_anthropic_key_as_x_api_key(stack):
    """anthropic 2.x sends the key as Bearer; the classic `x-api-key` header works as well."""
    client = anthropic.Anthropic(api_key=stack.key, base_url=stack.base, max_retries=0,
                                 default_headers={"X-Api-Key": stack.key,
                                                  "Authorization": anthropic.Omit()})
    r = client.messages.create(model="via-anthropic", max_tokens=64,
                               messages=[{"role": "user", "content": PROMPT}])
    assert AnthropicSdk._text(r) == EXPECTED


# --- the OpenAI SDK's Responses API, converted to every upstream ------------------------------


@pytest.mark.parametrize("model", UPSTREAM)
def test_responses_text_and_stream(stack, model):
    client = openai.OpenAI(api_key=stack.key, base_url=stack.base + "/v1", max_retries=0, timeout=20)
    r = client.responses.create(model=model, input=PROMPT)
    assert r.output_text == EXPECTED
    assert r.status == "completed"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens

    # The SDK's stream helper checks the event grammar (created first, items done before
    # completed) and raises on any violation.
    with client.responses.stream(model=model, input=PROMPT) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == EXPECTED
    assert final.output_text == EXPECTED
    assert final.usage.output_tokens == r.usage.output_tokens


@pytest.mark.parametrize("model", UPSTREAM)
def test_responses_tool_call(stack, model):
    client = openai.OpenAI(api_key=stack.key, base_url=stack.base + "/v1", max_retries=0, timeout=20)
    tools = [{"type": "function", "name": "get_weather", "description": "Current weather in a city",
              "parameters": CITY_SCHEMA}]
    r = client.responses.create(model=model, input=WEATHER, tools=tools)
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == TOOL_ARGS
