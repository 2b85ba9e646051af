//! End-to-end tests of the mock's OpenAI embeddings, images and Responses routes.

use serde_json::{json, Value};

use super::tests::{mock, named_frames, post_to as post};

/// Decodes standard base64 (test side, to check the encoder against an independent decoder).
fn decode_b64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 {c}"),
        }
    };
    let mut out = Vec::new();
    for quad in s.as_bytes().chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let n = data.iter().enumerate().fold(0u32, |n, (i, &c)| n | (val(c) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
    }
    out
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let m = mock().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["hello world", "x"], "encoding_format": "float"});
    let resp: Value = post(&m, "/v1/embeddings", &body).await.json().await.unwrap();
    assert_eq!(resp["object"], "list");
    assert_eq!(resp["model"], "text-embedding-3-small");
    assert_eq!(resp["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    let floats: Vec<f32> = serde_json::from_value(resp["data"][0]["embedding"].clone()).unwrap();
    assert_eq!(floats.len(), 8);
    assert_eq!(resp["data"][1]["index"], 1);
    assert_eq!(resp["data"][1]["object"], "embedding");

    let body = json!({"model": "e", "input": "hello world", "encoding_format": "base64"});
    let resp: Value = post(&m, "/v1/embeddings", &body).await.json().await.unwrap();
    let bytes = decode_b64(resp["data"][0]["embedding"].as_str().unwrap());
    let decoded: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(decoded, floats);

    let resp = post(&m, "/v1/embeddings", &json!({"model": "e"})).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "input");
}

#[tokio::test]
async fn image_generation() {
    let m = mock().await;
    let body = json!({"model": "gpt-image-1", "prompt": "a red fox", "n": 2});
    let resp: Value = post(&m, "/v1/images/generations", &body).await.json().await.unwrap();
    assert!(resp["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(resp["data"].as_array().unwrap().len(), 2);
    let png = decode_b64(resp["data"][0]["b64_json"].as_str().unwrap());
    assert_eq!(&png[..4], b"\x89PNG");
    assert_eq!(
        resp["usage"],
        json!({"input_tokens": 3, "output_tokens": 32, "total_tokens": 35,
               "input_tokens_details": {"text_tokens": 3, "image_tokens": 0}})
    );
    assert_eq!(post(&m, "/v1/images/generations", &json!({})).await.status(), 400);
}

#[tokio::test]
async fn responses_non_stream_text_tool_and_incomplete() {
    let m = mock().await;
    let body = json!({"model": "gpt-r", "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi  there"}]}]});
    let resp: Value = post(&m, "/v1/responses", &body).await.json().await.unwrap();
    assert!(resp["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(resp["object"], "response");
    assert_eq!(resp["status"], "completed");
    assert_eq!(resp["model"], "gpt-r");
    let item = &resp["output"][0];
    assert_eq!((item["type"].as_str(), item["role"].as_str()), (Some("message"), Some("assistant")));
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "Echo: hi there");
    assert_eq!(
        resp["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 3,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 13})
    );

    let body = json!({"model": "m", "input": "weather?",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {}}]});
    let resp: Value = post(&m, "/v1/responses", &body).await.json().await.unwrap();
    let item = &resp["output"][0];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["call_id"], "call_mock_0");
    assert_eq!(item["name"], "get_weather");
    assert_eq!(item["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(resp["usage"]["output_tokens"], 10);

    let body = json!({"input": "a b c", "max_output_tokens": 2});
    let resp: Value = post(&m, "/v1/responses", &body).await.json().await.unwrap();
    assert_eq!(resp["status"], "incomplete");
    assert_eq!(resp["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(resp["output"][0]["content"][0]["text"], "Echo: a");
    assert_eq!(post(&m, "/v1/responses", &json!({"model": "m"})).await.status(), 400);
}

/// (event line, data) of each Responses stream frame; checks type and sequence numbers.
fn frames(body: &str) -> Vec<(String, Value)> {
    let frames = named_frames(body);
    for (n, (_, data)) in frames.iter().enumerate() {
        assert_eq!(data["sequence_number"], n);
    }
    frames
}

#[tokio::test]
async fn responses_stream_text_order_and_usage() {
    let m = mock().await;
    let body = json!({"model": "m", "input": "hi there", "stream": true});
    let resp = post(&m, "/v1/responses", &body).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let f = frames(&resp.text().await.unwrap());
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let id = &f[0].1["response"]["id"];
    assert_eq!(f[0].1["response"]["status"], "in_progress");
    assert_eq!(f[0].1["response"]["usage"], Value::Null);
    let item_id = &f[2].1["item"]["id"];
    let text: String = f[4..7]
        .iter()
        .map(|(_, d)| {
            assert_eq!(&d["item_id"], item_id);
            d["delta"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "Echo: hi there");
    assert_eq!(f[7].1["text"], "Echo: hi there");
    let done = &f[10].1["response"];
    assert_eq!(&done["id"], id);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["usage"]["input_tokens"], 5);
    assert_eq!(done["usage"]["output_tokens"], 3);
    assert_eq!(done["output"][0]["content"][0]["text"], "Echo: hi there");
}

#[tokio::test]
async fn responses_stream_tool_call() {
    let m = mock().await;
    let body = json!({"input": [{"type": "message", "role": "user", "content": "weather?"}], "stream": true,
        "tools": [{"type": "function", "name": "w", "parameters": {}}]});
    let f = frames(&post(&m, "/v1/responses", &body).await.text().await.unwrap());
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(f[2].1["item"]["arguments"], "");
    assert_eq!(f[2].1["item"]["name"], "w");
    let args: String = f[3..5].iter().map(|(_, d)| d["delta"].as_str().unwrap().to_owned()).collect();
    assert_eq!(args, f[5].1["arguments"].as_str().unwrap());
    assert_eq!(f[6].1["item"]["status"], "completed");
    assert_eq!(f[7].1["response"]["usage"]["output_tokens"], 10);

    let body = json!({"input": "a b", "stream": true, "max_output_tokens": 1});
    let f = frames(&post(&m, "/v1/responses", &body).await.text().await.unwrap());
    assert_eq!(f.last().unwrap().0, "response.incomplete");
}
