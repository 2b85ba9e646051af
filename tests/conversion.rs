//! Every inbound protocol against every upstream protocol, over the real binary and the mock:
//! text (whole and streamed), tools, usage, and errors in the client's own envelope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use switchyard::mock::{Faults, MockUpstream};

const UPSTREAMS: [&str; 3] = ["via-openai", "via-anthropic", "via-gemini"];

async fn matrix() -> (MockUpstream, Gateway) {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = mock.addr();
    let yaml = format!(
        "providers:\n\
  - {{ name: up-openai, protocol: openai, base_url: \"http://{a}/v1\", api_key: \"{UPSTREAM_KEY}\" }}\n\
  - {{ name: up-anthropic, protocol: anthropic, base_url: \"http://{a}\", api_key: \"{UPSTREAM_KEY}\" }}\n\
  - {{ name: up-gemini, protocol: gemini, base_url: \"http://{a}\", api_key: \"{UPSTREAM_KEY}\" }}\n\
models:\n\
  - {{ id: via-openai, channels: [ {{ provider: up-openai, model: mock-openai }} ], price: {{ input: 0.15, output: 0.6, cache_read: 0.075 }}, capabilities: {{ vision: true, function_call: true }} }}\n\
  - {{ id: via-anthropic, channels: [ {{ provider: up-anthropic, model: mock-anthropic }} ] }}\n\
  - {{ id: via-gemini, channels: [ {{ provider: up-gemini, model: mock-gemini }} ] }}\n\
  - {{ id: emb-openai, kind: embedding, channels: [ {{ provider: up-openai, model: mock-openai }} ] }}\n\
  - {{ id: img-openai, kind: image, channels: [ {{ provider: up-openai, model: mock-openai }} ] }}\n\
  - {{ id: emb-anthropic, kind: embedding, channels: [ {{ provider: up-anthropic, model: mock-anthropic }} ] }}\n\
  - {{ id: emb-gemini, kind: embedding, channels: [ {{ provider: up-gemini, model: mock-gemini }} ] }}\n\
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"
    );
    let gw = Gateway::start(&yaml).await;
    (mock, gw)
}

#[derive(Clone, Copy, Debug)]
enum Client {
    OpenAi,
    Anthropic,
    Gemini,
}

const CLIENTS: [Client; 3] = [Client::OpenAi, Client::Anthropic, Client::Gemini];

fn tool_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

async fn send(gw: &Gateway, client: Client, model: &str, text: &str, stream: bool, tools: bool) -> reqwest::Response {
    let c = reqwest::Client::new();
    match client {
        Client::OpenAi => {
            let mut body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]});
            if tools {
                body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": tool_schema()}}]);
            }
            c.post(gw.url("/v1/chat/completions")).bearer_auth(KEY).json(&body).send().await.unwrap()
        }
        Client::Anthropic => {
            let mut body =
                json!({"model": model, "stream": stream, "max_tokens": 256, "messages": [{"role": "user", "content": text}]});
            if tools {
                body["tools"] = json!([{"name": "get_weather", "input_schema": tool_schema()}]);
            }
            c.post(gw.url("/v1/messages"))
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
        Client::Gemini => {
            let mut body = json!({"contents": [{"role": "user", "parts": [{"text": text}]}]});
            if tools {
                body["tools"] =
                    json!([{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": tool_schema()}]}]);
            }
            let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
            c.post(gw.url(&format!("/v1beta/models/{model}:{method}")))
                .header("x-goog-api-key", KEY)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    }
}

/// The answer text of a whole response in the client's protocol.
fn whole_text(client: Client, v: &Value) -> String {
    match client {
        Client::OpenAi => v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned(),
        Client::Anthropic => v["content"].as_array().unwrap().iter().filter_map(|b| b["text"].as_str()).collect(),
        Client::Gemini => {
            v["candidates"][0]["content"]["parts"].as_array().unwrap().iter().filter_map(|p| p["text"].as_str()).collect()
        }
    }
}

/// The joined text deltas of a stream in the client's protocol.
fn stream_text(client: Client, body: &str) -> String {
    let mut text = String::new();
    for data in sse_data(body) {
        let Ok(v) = serde_json::from_str::<Value>(&data) else { continue };
        match client {
            Client::OpenAi => text.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or_default()),
            Client::Anthropic => text.push_str(v["delta"]["text"].as_str().unwrap_or_default()),
            Client::Gemini => {
                for p in v["candidates"][0]["content"]["parts"].as_array().into_iter().flatten() {
                    text.push_str(p["text"].as_str().unwrap_or_default());
                }
            }
        }
    }
    text
}

#[tokio::test]
async fn text_whole_and_streamed_in_every_cell() {
    let (_mock, gw) = matrix().await;
    for client in CLIENTS {
        for model in UPSTREAMS {
            let resp = send(&gw, client, model, "Say hello to the matrix", false, false).await;
            assert_eq!(resp.status(), 200, "{client:?} -> {model}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(whole_text(client, &v), "Echo: Say hello to the matrix", "{client:?} -> {model}: {v}");
            let usage_ok = match client {
                Client::OpenAi => {
                    v["usage"]["prompt_tokens"].as_u64() > Some(0) && v["usage"]["completion_tokens"] == 6 && v["model"] == model
                }
                Client::Anthropic => {
                    v["usage"]["input_tokens"].as_u64() > Some(0) && v["usage"]["output_tokens"] == 6 && v["model"] == model
                }
                Client::Gemini => {
                    v["usageMetadata"]["candidatesTokenCount"] == 6 && v["usageMetadata"]["totalTokenCount"].as_u64() > Some(6)
                }
            };
            assert!(usage_ok, "{client:?} -> {model}: {v}");

            let resp = send(&gw, client, model, "Say hello to the matrix", true, false).await;
            assert_eq!(resp.status(), 200);
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
            let body = resp.text().await.unwrap();
            assert_eq!(stream_text(client, &body), "Echo: Say hello to the matrix", "{client:?} -> {model}: {body}");
            match client {
                Client::OpenAi => assert!(body.trim_end().ends_with("data: [DONE]"), "{body}"),
                Client::Anthropic => {
                    assert!(body.starts_with("event: message_start") && body.contains("event: message_stop"), "{body}")
                }
                Client::Gemini => assert!(body.contains("\"finishReason\":\"STOP\""), "{body}"),
            }
        }
    }
}

#[tokio::test]
async fn tool_calls_arrive_in_the_clients_shape_from_every_upstream() {
    let (_mock, gw) = matrix().await;
    for client in CLIENTS {
        for model in UPSTREAMS {
            let v: Value = send(&gw, client, model, "What is the weather in Paris?", false, true).await.json().await.unwrap();
            let (name, args, finish) = match client {
                Client::OpenAi => {
                    let call = &v["choices"][0]["message"]["tool_calls"][0]["function"];
                    (
                        call["name"].clone(),
                        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
                        v["choices"][0]["finish_reason"].clone(),
                    )
                }
                Client::Anthropic => {
                    let call = v["content"].as_array().unwrap().iter().find(|b| b["type"] == "tool_use").unwrap().clone();
                    (call["name"].clone(), call["input"].clone(), v["stop_reason"].clone())
                }
                Client::Gemini => {
                    let part = v["candidates"][0]["content"]["parts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|p| p.get("functionCall").is_some())
                        .unwrap()
                        .clone();
                    (
                        part["functionCall"]["name"].clone(),
                        part["functionCall"]["args"].clone(),
                        v["candidates"][0]["finishReason"].clone(),
                    )
                }
            };
            assert_eq!(name, "get_weather", "{client:?} -> {model}: {v}");
            assert_eq!(args, json!({"city": "Paris"}), "{client:?} -> {model}: {v}");
            let expected_finish = match client {
                Client::OpenAi => "tool_calls",
                Client::Anthropic => "tool_use",
                Client::Gemini => "STOP",
            };
            assert_eq!(finish, expected_finish, "{client:?} -> {model}");
        }
    }
}

#[tokio::test]
async fn streamed_tool_arguments_reassemble_for_chat_and_anthropic_clients() {
    let (_mock, gw) = matrix().await;
    for model in UPSTREAMS {
        let body = send(&gw, Client::OpenAi, model, "weather please", true, true).await.text().await.unwrap();
        let mut args = String::new();
        let mut ids = 0;
        for data in sse_data(&body) {
            let Ok(v) = serde_json::from_str::<Value>(&data) else { continue };
            for call in v["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
                assert_eq!(call["index"], 0, "every tool delta carries its index: {data}");
                ids += usize::from(call.get("id").is_some());
                args.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
            }
        }
        assert_eq!(ids, 1, "the id is sent once ({model}): {body}");
        assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"city": "Paris"}), "{model}: {body}");

        let body = send(&gw, Client::Anthropic, model, "weather please", true, true).await.text().await.unwrap();
        let mut partial = String::new();
        for data in sse_data(&body) {
            let v: Value = serde_json::from_str(&data).unwrap();
            if v["delta"]["type"] == "input_json_delta" {
                partial.push_str(v["delta"]["partial_json"].as_str().unwrap());
            }
        }
        assert_eq!(serde_json::from_str::<Value>(&partial).unwrap(), json!({"city": "Paris"}), "{model}: {body}");
    }
}

#[tokio::test]
async fn upstream_errors_come_back_in_the_clients_envelope() {
    let (mock, gw) = matrix().await;
    mock.set_faults(Faults { status: Some(529), ..Faults::default() });
    // An Anthropic 529 "overloaded" reaches an OpenAI client as 503, an Anthropic client as 529.
    let resp = send(&gw, Client::OpenAi, "via-anthropic", "hi", false, false).await;
    let body = assert_error(resp, 503).await;
    assert!(body["error"]["message"].as_str().unwrap().to_lowercase().contains("overloaded"), "{body}");
    let resp = send(&gw, Client::Anthropic, "via-anthropic", "hi", false, false).await;
    assert_eq!(resp.status(), 529);
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["type"].as_str(), v["error"]["type"].as_str()), (Some("error"), Some("overloaded_error")), "{v}");
    mock.set_faults(Faults::default());

    let resp = send(&gw, Client::Gemini, "no-such-model", "hi", false, false).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["error"]["code"].as_u64(), v["error"]["status"].as_str()), (Some(404), Some("NOT_FOUND")), "{v}");

    let resp = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
}

#[tokio::test]
async fn cut_upstream_stream_ends_with_the_clients_error_event() {
    let (mock, gw) = matrix().await;
    mock.set_faults(Faults { cut_after_events: Some(3), ..Faults::default() });
    let body = send(&gw, Client::Anthropic, "via-openai", "one two three four five", true, false).await.text().await.unwrap();
    assert!(body.contains("event: error"), "{body}");
    assert!(!body.contains("event: message_stop"), "{body}");
    let body = send(&gw, Client::OpenAi, "via-gemini", "one two three four five", true, false).await.text().await.unwrap();
    assert!(!body.contains("[DONE]"), "{body}");
    assert!(sse_data(&body).last().unwrap().contains("\"error\""), "{body}");
}

#[tokio::test]
async fn model_lists_in_each_sdks_shape() {
    let (_mock, gw) = matrix().await;
    let c = reqwest::Client::new();
    let anthropic: Value = c
        .get(gw.url("/v1/models"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][0]["type"], "model");
    assert_eq!(anthropic["has_more"], false);
    let gemini: Value = c.get(gw.url("/v1beta/models")).header("x-goog-api-key", KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(gemini["models"][0]["name"], "models/via-openai");
    let openai: Value = c.get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(openai["object"], "list");
    for listing in [&openai["data"][0], &anthropic["data"][0], &gemini["models"][0]] {
        assert_eq!(listing["capabilities"], json!({"vision": true, "function_call": true, "reasoning": false}), "{listing}");
        assert_eq!(listing["pricing"]["input"], "0.15", "{listing}");
        assert_eq!(listing["pricing"]["cache_read"], "0.075", "{listing}");
        assert!(listing["endpoints"].as_array().unwrap().contains(&json!("/v1/messages")), "{listing}");
    }
    assert_eq!(openai["data"][1]["pricing"], Value::Null);
}

#[tokio::test]
async fn embeddings_and_images_reach_openai_channels_only() {
    let (mock, gw) = matrix().await;
    let c = reqwest::Client::new();
    let v: Value = c
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "emb-openai", "input": ["a", "b"], "encoding_format": "float"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["model"], "emb-openai");
    assert_eq!(mock.requests().last().unwrap().json().unwrap()["model"], "mock-openai");
    let v: Value = c
        .post(gw.url("/v1/images/generations"))
        .bearer_auth(KEY)
        .json(&json!({"model": "img-openai", "prompt": "a cat"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["data"][0]["b64_json"].is_string(), "{v}");
    let resp = c
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "emb-anthropic", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_error(resp, 400).await["error"]["code"], "unsupported_endpoint");

    // A model of another kind is refused on the endpoint, naming it, before any upstream call.
    let before = mock.requests().len();
    let resp = c
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "via-openai", "input": "x"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 400).await;
    assert_eq!(body["error"]["code"], "model_not_supported_on_endpoint", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("/v1/embeddings"), "{body}");
    let resp = c
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "emb-openai", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 400).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("/v1/chat/completions"), "{body}");
    assert_eq!(mock.requests().len(), before, "refused before any upstream call");

    // A Gemini channel: batchEmbedContents upstream, the OpenAI shape back; base64 (the OpenAI
    // SDK's default) is exactly the float32-LE bytes of the float answer.
    let floats: Value = c
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "emb-gemini", "input": ["a b", "c"], "encoding_format": "float"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mock.requests().last().unwrap().path.ends_with("/models/mock-gemini:batchEmbedContents"));
    let b64: Value = c
        .post(gw.url("/v1/embeddings"))
        .bearer_auth(KEY)
        .json(&json!({"model": "emb-gemini", "input": ["a b", "c"], "encoding_format": "base64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(floats["data"].as_array().unwrap().len(), 2, "{floats}");
    let values: Vec<f32> =
        floats["data"][1]["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|f| f.to_le_bytes()).collect();
    assert_eq!(b64["data"][1]["embedding"], base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes), "{b64}");
    assert_eq!(floats["usage"]["prompt_tokens"], 3, "{floats}");
}

#[tokio::test]
async fn responses_clients_reach_every_upstream_and_native_providers_directly() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = mock.addr();
    let yaml = format!(
        "providers:\n\
  - {{ name: up-openai, protocol: openai, base_url: \"http://{a}/v1\", api_key: k }}\n\
  - {{ name: up-native, protocol: openai, base_url: \"http://{a}/v1\", api_key: k, responses: true }}\n\
  - {{ name: up-anthropic, protocol: anthropic, base_url: \"http://{a}\", api_key: k }}\n\
  - {{ name: up-gemini, protocol: gemini, base_url: \"http://{a}\", api_key: k }}\n\
models:\n\
  - {{ id: via-openai, channels: [ {{ provider: up-openai, model: m }} ] }}\n\
  - {{ id: via-native, channels: [ {{ provider: up-native, model: m }} ] }}\n\
  - {{ id: via-anthropic, channels: [ {{ provider: up-anthropic, model: m }} ] }}\n\
  - {{ id: via-gemini, channels: [ {{ provider: up-gemini, model: m }} ] }}\n\
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"
    );
    let gw = Gateway::start(&yaml).await;
    let c = reqwest::Client::new();
    for model in ["via-openai", "via-native", "via-anthropic", "via-gemini"] {
        let body = json!({"model": model, "input": "Say hello to the matrix", "temperature": 0});
        let v: Value = c.post(gw.url("/v1/responses")).bearer_auth(KEY).json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["object"], "response", "{model}: {v}");
        assert_eq!(v["status"], "completed", "{model}: {v}");
        let text: String = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "message")
            .flat_map(|i| i["content"].as_array().unwrap().iter().filter_map(|p| p["text"].as_str()).map(str::to_owned))
            .collect();
        assert_eq!(text, "Echo: Say hello to the matrix", "{model}: {v}");
        assert_eq!(v["usage"]["output_tokens"], 6, "{model}: {v}");
        let path = mock.requests().last().unwrap().path.clone();
        let expected = match model {
            "via-native" => "/v1/responses",
            "via-openai" => "/v1/chat/completions",
            "via-anthropic" => "/v1/messages",
            _ => "/v1beta/models/m:generateContent",
        };
        assert_eq!(path, expected, "{model}");

        let mut body = body;
        body["stream"] = json!(true);
        let text = c.post(gw.url("/v1/responses")).bearer_auth(KEY).json(&body).send().await.unwrap().text().await.unwrap();
        let events: Vec<Value> = sse_data(&text).iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        let seq: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert!(seq.windows(2).all(|w| w[1] == w[0] + 1), "{model}: {seq:?}");
        assert_eq!(events.first().unwrap()["type"], "response.created", "{model}");
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.completed", "{model}: {text}");
        assert_eq!(last["response"]["usage"]["output_tokens"], 6, "{model}: {last}");
        let deltas: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .filter_map(|e| e["delta"].as_str())
            .collect();
        assert_eq!(deltas, "Echo: Say hello to the matrix", "{model}");
    }
}

#[tokio::test]
async fn count_tokens_is_answered_locally() {
    let (mock, gw) = matrix().await;
    let c = reqwest::Client::new();
    let gemini: Value = c
        .post(gw.url("/v1beta/models/via-anthropic:countTokens"))
        .header("x-goog-api-key", KEY)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hello world"}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let anthropic: Value = c
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "via-gemini", "messages": [{"role": "user", "content": "hello world"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // o200k: "hello world" is 2 tokens, plus 3 per turn and 3 to prime the answer.
    assert_eq!(gemini["totalTokens"], 8, "{gemini}");
    assert_eq!(anthropic["input_tokens"], 8, "{anthropic}");
    assert!(mock.requests().is_empty(), "no upstream call");
    let resp = c
        .post(gw.url("/v1beta/models/nope:countTokens"))
        .header("x-goog-api-key", KEY)
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// A one-file HTTP server on loopback: `GET /cat.png` answers `PNG` bytes.
async fn image_server(bytes: &'static [u8]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let found = String::from_utf8_lossy(&buf[..n]).starts_with("GET /cat.png ");
                let head = if found {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        bytes.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                };
                let _ = sock.write_all(head.as_bytes()).await;
                if found {
                    let _ = sock.write_all(bytes).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn image_urls_are_fetched_and_inlined_for_gemini_only() {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot-really-an-image";
    let images = image_server(PNG).await;
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = mock.addr();
    let models = "models:\n  - { id: via-gemini, channels: [ { provider: g, model: gm } ] }\n  - { id: via-anthropic, channels: [ { provider: an, model: am } ] }\n";
    let providers = format!("providers:\n  - {{ name: g, protocol: gemini, base_url: \"http://{a}\", api_key: k }}\n  - {{ name: an, protocol: anthropic, base_url: \"http://{a}\", api_key: k }}\n");
    let keys = format!("keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n");
    let open =
        Gateway::start(&format!("{providers}{models}{keys}limits: {{ media_allow_private: true, media_allow_http: true }}\n"))
            .await;
    let closed = Gateway::start(&format!("{providers}{models}{keys}limits: {{ media_allow_http: true }}\n")).await;
    let message = |model: &str, url: String| {
        json!({"model": model, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}}
        ]}]})
    };
    let url = format!("http://{images}/cat.png");

    let resp = open.chat(message("via-gemini", url.clone())).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests().last().unwrap().json().unwrap();
    let inline = sent["contents"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("inlineData").is_some())
        .unwrap()
        .clone();
    assert_eq!(inline["inlineData"]["mimeType"], "image/png", "{sent}");
    assert_eq!(inline["inlineData"]["data"], base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG), "{sent}");

    // Anthropic takes URLs itself: nothing is fetched, the URL goes up as a url source.
    let resp = open.chat(message("via-anthropic", url.clone())).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.requests().last().unwrap().json().unwrap();
    assert_eq!(sent["messages"][0]["content"][1]["source"]["url"], url.as_str(), "{sent}");

    // By default a client URL may not reach the gateway's own network.
    let body = assert_error(closed.chat(message("via-gemini", url.clone())).await, 400).await;
    assert_eq!(body["error"]["code"], "media_fetch_failed");
    let refused = body["error"]["message"].as_str().unwrap().to_owned();
    // A URL that cannot be fetched is a 400 naming it, never a silently dropped image; refused
    // and missing look alike, so the gateway cannot be used to probe hosts.
    let missing = format!("http://{images}/missing.png");
    let body = assert_error(open.chat(message("via-gemini", missing.clone())).await, 400).await;
    assert_eq!(body["error"]["message"].as_str().unwrap(), refused.replace("cat.png", "missing.png"), "{body}");
    assert!(refused.contains(&url) && refused.ends_with("could not be used"), "{refused}");
    // https only by default.
    let https_only = Gateway::start(&format!("{providers}{models}{keys}limits: {{ media_allow_private: true }}\n")).await;
    let body = assert_error(https_only.chat(message("via-gemini", url.clone())).await, 400).await;
    assert_eq!(body["error"]["message"].as_str().unwrap(), refused, "{body}");
}

/// The tool-loop history an OpenAI client sends back after a call.
fn second_turn(model: &str, call: &Value) -> Value {
    json!({
        "model": model,
        "reasoning_effort": "low",
        "max_completion_tokens": 4000,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": tool_schema()}}],
        "messages": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"sky\":\"clear\"}"}
        ]
    })
}

#[tokio::test]
async fn chat_clients_get_signed_reasoning_back_to_its_issuer_on_the_next_turn() {
    let (mock, gw) = matrix().await;
    let first = |model: &str, stream: bool| {
        json!({
            "model": model, "stream": stream, "reasoning_effort": "low", "max_completion_tokens": 4000,
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": tool_schema()}}],
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}]
        })
    };

    // Gemini, whole answer: the functionCall's thoughtSignature returns on the next turn.
    let v: Value = gw.chat(first("via-gemini", false)).await.json().await.unwrap();
    let call = v["choices"][0]["message"]["tool_calls"][0].clone();
    let sent = mock.requests().last().unwrap().json().unwrap();
    assert_eq!(sent["generationConfig"]["thinkingConfig"]["includeThoughts"], true, "{sent}");
    assert_eq!(gw.chat(second_turn("via-gemini", &call)).await.status(), 200);
    let sent = mock.requests().last().unwrap().json().unwrap();
    let model_turn = sent["contents"].as_array().unwrap().iter().find(|c| c["role"] == "model").unwrap().clone();
    let signed = model_turn["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| p["thoughtSignature"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        !signed.is_empty() && signed != "skip_thought_signature_validator",
        "the stored signature, not the sentinel: {model_turn}"
    );

    // Anthropic, streamed answer: the signed thinking block opens the assistant turn again.
    let body = gw.chat(first("via-anthropic", true)).await.text().await.unwrap();
    let mut id = String::new();
    for data in sse_data(&body) {
        if let Ok(v) = serde_json::from_str::<Value>(&data) {
            if let Some(i) = v["choices"][0]["delta"]["tool_calls"][0]["id"].as_str() {
                id = i.to_owned();
            }
        }
    }
    assert!(!id.is_empty(), "{body}");
    let call = json!({"id": id, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
    assert_eq!(gw.chat(second_turn("via-anthropic", &call)).await.status(), 200);
    let sent = mock.requests().last().unwrap().json().unwrap();
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["content"][0]["type"], "thinking", "{sent}");
    assert!(assistant["content"][0]["signature"].as_str().is_some_and(|s| s.starts_with("sig_mock_")), "{sent}");
    assert_eq!(sent["thinking"]["type"], "enabled", "thinking stays on: {sent}");
}
