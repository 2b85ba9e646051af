//! End-to-end tests of the mock's Gemini routes over real sockets.

use std::time::Duration;

use serde_json::{json, Value};

use super::tests::{mock, post_to as post, read_until_cut, url};
use super::Faults;

fn request(text: &str) -> Value {
    json!({"systemInstruction": {"parts": [{"text": "be brief"}]},
           "contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// The `data: ` payloads of a Gemini SSE body, checking the CRLF framing.
fn chunks(body: &str) -> Vec<Value> {
    assert!(body.ends_with("\r\n\r\n"), "{body:?}");
    body.split_terminator("\r\n\r\n")
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

const GENERATE: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

#[tokio::test]
async fn non_stream_response_shape() {
    let m = mock().await;
    let resp = post(&m, GENERATE, &request("hello   world")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(!body["responseId"].as_str().unwrap().is_empty());
    let expected = json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Echo: hello world"}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5 + 5, "candidatesTokenCount": 3, "totalTokenCount": 13},
        "modelVersion": "gemini-2.5-flash", "responseId": body["responseId"]});
    assert_eq!(body, expected);
}

#[tokio::test]
async fn prefixes_encoded_model_and_max_tokens() {
    let m = mock().await;
    let mut body = request("one two three");
    body["generationConfig"] = json!({"maxOutputTokens": 2});
    let resp: Value = post(&m, "/gw/v1/models%2Fgemini-3-pro%3AgenerateContent", &body).await.json().await.unwrap();
    assert_eq!(resp["modelVersion"], "gemini-3-pro");
    assert_eq!(resp["candidates"][0]["content"]["parts"][0]["text"], "Echo: one");
    assert_eq!(resp["candidates"][0]["finishReason"], "MAX_TOKENS");
}

#[tokio::test]
async fn thinking_and_function_call() {
    let m = mock().await;
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "weather in Paris?"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT"}}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true, "thinkingBudget": -1}}});
    let resp: Value = post(&m, GENERATE, &body).await.json().await.unwrap();
    let sig = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"sig_mock_33");
    assert_eq!(
        resp["candidates"][0]["content"]["parts"],
        json!([{"text": "Thinking about: weather in Paris?", "thought": true},
               {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": sig}])
    );
    assert_eq!(resp["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        resp["usageMetadata"],
        json!({"promptTokenCount": 6, "candidatesTokenCount": 10, "thoughtsTokenCount": 5, "totalTokenCount": 21})
    );

    // The function response turn gets the echo of the earlier question, no call.
    let body = json!({"tools": body["tools"], "contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}]}]});
    let resp: Value = post(&m, GENERATE, &body).await.json().await.unwrap();
    assert_eq!(resp["candidates"][0]["content"]["parts"], json!([{"text": "Echo: weather?"}]));
    assert!(resp["usageMetadata"].get("thoughtsTokenCount").is_none());
}

#[tokio::test]
async fn stream_chunks_with_running_usage() {
    let m = mock().await;
    let mut body = request("hi there");
    body["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let resp = post(&m, STREAM, &body).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"));
    let c = chunks(&text);
    // 4 thought words, 3 answer words.
    assert_eq!(c.len(), 7);
    let part = |i: usize| &c[i]["candidates"][0]["content"]["parts"][0];
    let thought: String = (0..4)
        .map(|i| {
            assert_eq!(part(i)["thought"], true);
            part(i)["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(thought, "Thinking about: hi there");
    let answer: String = (4..7).map(|i| part(i)["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(answer, "Echo: hi there");
    assert_eq!(part(4)["thoughtSignature"], base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"sig_mock_24"));
    assert!(part(5).get("thoughtSignature").is_none());
    for (i, chunk) in c.iter().enumerate() {
        assert_eq!(chunk["modelVersion"], "gemini-2.5-flash");
        assert_eq!(chunk["responseId"], c[0]["responseId"]);
        assert_eq!(chunk["candidates"][0].get("finishReason").is_some(), i == 6);
        assert_eq!(chunk["usageMetadata"]["promptTokenCount"], 10);
    }
    assert_eq!(c[0]["usageMetadata"], json!({"promptTokenCount": 10, "thoughtsTokenCount": 1, "totalTokenCount": 11}));
    assert_eq!(
        c[6]["usageMetadata"],
        json!({"promptTokenCount": 10, "candidatesTokenCount": 3, "thoughtsTokenCount": 4, "totalTokenCount": 17})
    );
    assert_eq!(c[6]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn stream_function_call_whole_and_json_array_without_sse() {
    let m = mock().await;
    let body = json!({"contents": [{"parts": [{"text": "weather?"}]}],
        "tools": [{"functionDeclarations": [{"name": "w"}]}]});
    let c = chunks(&post(&m, STREAM, &body).await.text().await.unwrap());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["candidates"][0]["content"]["parts"], json!([{"functionCall": {"name": "w", "args": {"city": "Paris"}}}]));
    assert_eq!(c[0]["candidates"][0]["finishReason"], "STOP");
    let array: Value = post(&m, "/v1/models/g:streamGenerateContent", &request("a")).await.json().await.unwrap();
    assert_eq!(array.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn count_tokens_and_embeddings() {
    let m = mock().await;
    let count: Value = post(&m, "/v1beta/models/g:countTokens", &request("a b")).await.json().await.unwrap();
    assert_eq!(count, json!({"totalTokens": 5 + 5}));
    let wrapped = json!({"generateContentRequest": request("a b")});
    let count: Value = post(&m, "/v1beta/models/g:countTokens", &wrapped).await.json().await.unwrap();
    assert_eq!(count["totalTokens"], 10);
    let batch = json!({"requests": [
        {"model": "models/e", "content": {"parts": [{"text": "hello"}]}},
        {"model": "models/e", "content": {"parts": [{"text": "world"}]}}]});
    let resp: Value = post(&m, "/v1beta/models/e:batchEmbedContents", &batch).await.json().await.unwrap();
    let want: Vec<f64> = super::embeddings::vector("hello").iter().map(|&f| f64::from(f)).collect();
    assert_eq!(resp["embeddings"][0]["values"], json!(want));
    assert_eq!(resp["embeddings"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn auth_header_query_wrong_and_missing() {
    let m = mock().await;
    m.set_api_key(Some("AIza-mock".into()));
    let client = reqwest::Client::new();
    let resp = post(&m, GENERATE, &request("x")).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(body["error"]["code"], 403);

    let resp = client.post(url(&m, GENERATE)).header("x-goog-api-key", "bad").json(&request("x")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "API key not valid. Please pass a valid API key.");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let ok = client.post(url(&m, GENERATE)).header("x-goog-api-key", "AIza-mock").json(&request("x")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let ok = post(&m, &format!("{STREAM}&key=AIza-mock"), &request("x")).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn errors_and_faults_use_google_statuses() {
    let m = mock().await;
    for (status, name) in [
        (429, "RESOURCE_EXHAUSTED"),
        (503, "UNAVAILABLE"),
        (500, "INTERNAL"),
        (400, "INVALID_ARGUMENT"),
        (404, "NOT_FOUND"),
        (504, "DEADLINE_EXCEEDED"),
    ] {
        let mut body = request("x");
        body["mock"] = json!({"status": status});
        let resp = post(&m, GENERATE, &body).await;
        assert_eq!(resp.status().as_u16(), status);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], status);
        assert_eq!(err["error"]["status"], name);
        assert!(err["error"]["message"].is_string());
    }
    let resp = post(&m, "/v1beta/models/g:generateContent", &json!({"contents": []})).await;
    assert_eq!(resp.status(), 400);
    let resp = post(&m, "/v1beta/models/g:nope", &request("x")).await;
    assert_eq!(resp.status(), 404);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["status"], "NOT_FOUND");

    let mut body = request("a b c");
    body["mock"] = json!({"cut_after_events": 2});
    let (received, cut) = read_until_cut(post(&m, STREAM, &body).await).await;
    assert!(cut);
    assert_eq!(chunks(&String::from_utf8(received).unwrap()).len(), 2);

    m.set_faults(Faults { header_delay: Duration::from_millis(100), ..Faults::default() });
    let started = std::time::Instant::now();
    assert_eq!(post(&m, GENERATE, &request("x")).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(95));
}
