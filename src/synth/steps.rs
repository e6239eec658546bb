//! The leaf steps of a workflow: model calls, tool calls, retrievals, embeddings — each one
//! span with its GenAI attributes and, when it fails, `error.type`, an ERROR status and an
//! `exception` event. (Control flow, agents and conversations live in [`super::build`].)

use super::build::{CHARS_PER_TOKEN, Conv, Ctx, Head};
use super::content::{self as c, Range};
use super::rng::TraceRng;
use super::text::ident;
use super::trace::*;
use crate::scenario::{Node, Op};

/// Error kinds by step type: (error.type, message).
const LLM_ERRORS: &[(&str, &str)] = &[
    ("RateLimitError", "Rate limit reached for requests per minute. Please try again in 2s."),
    ("APITimeoutError", "Request timed out."),
    ("InternalServerError", "The server had an error while processing your request."),
];
const TOOL_ERRORS: &[(&str, &str)] = &[
    ("TimeoutError", "tool call exceeded its 30s deadline"),
    ("ConnectionError", "connection reset by peer while reading the upstream response"),
    ("ValueError", "invalid argument: the requested date range is in the past"),
];
const RETRIEVAL_ERRORS: &[(&str, &str)] = &[
    ("httpx.ReadTimeout", "timed out reading from the vector index"),
    ("IndexUnavailableError", "the index shard is rebalancing; retry later"),
];

impl<'s> Ctx<'s, '_> {
    /// Adds `error.type` and an exception event; returns the status message and event start.
    fn error(&mut self, kinds: &[(&'static str, &'static str)], prefix: &str, at_time: u64) -> (Str<'s>, u32) {
        let (ty, msg) = *self.rng.pick(kinds);
        let at = c::mark(&self.t.text);
        self.t.text.extend_from_slice(prefix.as_bytes());
        self.t.text.extend_from_slice(ty.as_bytes());
        let ty_r = c::since(&self.t.text, at);
        self.attr_buf("error.type", ty_r);
        // A Python-style traceback, a few frames deep.
        let at = c::mark(&self.t.text);
        self.t.text.extend_from_slice(b"Traceback (most recent call last):\n");
        let frames = 3 + self.rng.below(5);
        for _ in 0..frames {
            let file = *self.rng.pick(&[
                "agents/runner.py",
                "agents/tools.py",
                "app/workflows.py",
                "clients/http.py",
                "clients/llm.py",
                "retrieval/index.py",
            ]);
            let func = *self.rng.pick(&["run", "invoke", "_call", "execute", "send", "request", "_retry", "search"]);
            let line = 20 + self.rng.below(600);
            self.t.text.extend_from_slice(
                format!("  File \"/app/{file}\", line {line}, in {func}\n    result = await self.{func}(request)\n")
                    .as_bytes(),
            );
        }
        self.t.text.extend_from_slice(prefix.as_bytes());
        self.t.text.extend_from_slice(format!("{ty}: {msg}").as_bytes());
        let trace_r = c::since(&self.t.text, at);
        let a0 = self.t.attrs.len() as u32;
        self.attr_buf("exception.type", ty_r);
        self.attr_str("exception.message", msg);
        self.attr_buf("exception.stacktrace", trace_r);
        let e0 = self.t.events.len() as u32;
        self.t.events.push(Event { name: "exception", time: at_time, attrs: (a0, self.t.attrs.len() as u32) });
        // The event's attributes now sit inside the span's range; `push_span_split` moves them.
        (Str::Lit(msg), e0)
    }

    pub(super) fn llm(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        let Op::Llm { model, provider, span_name, output_tokens, context_tokens, tool_calls } = &node.op else {
            unreachable!()
        };
        let id = self.span_id();
        let end = start + self.ms(&node.duration_ms);
        let fails = self.fails(node);
        let input = self.input_messages(conv);
        let system = c::system_instructions(&mut self.t.text, conv.system);
        let input_tokens = (conv.history_bytes as u64 + conv.system.1 as u64) / CHARS_PER_TOKEN
            + self.rng.sample_count(context_tokens);
        let max = self.sc.source.max_content_bytes;
        let mut output = None;
        let mut out_tokens = 0;
        let mut finish = "stop";
        if !fails {
            out_tokens = self.rng.sample_count(output_tokens).max(1);
            let parts = if tool_calls.is_empty() {
                let chars = ((out_tokens * CHARS_PER_TOKEN) as usize).min(max / 2);
                let answer = c::text(&mut self.t.text, self.rng, chars);
                conv.last_answer = Some(answer);
                if self.rng.chance(0.01) {
                    finish = "length";
                }
                c::text_part(&mut self.t.text, answer)
            } else {
                finish = "tool_call";
                c::tool_call_parts(&mut self.t.text, self.rng, tool_calls, &mut conv.pending)
            };
            output = Some(c::output_messages(&mut self.t.text, parts, finish));
            let hist = c::assistant_message(&mut self.t.text, parts);
            self.push_msg(conv, hist);
        }
        self.t.tokens += input_tokens + out_tokens;

        let a0 = self.t.attrs.len() as u32;
        self.attr_str("gen_ai.operation.name", "chat");
        self.attr_str("gen_ai.provider.name", provider);
        self.attr_str("gen_ai.request.model", model);
        let cid = self.conversation_id;
        self.attr_buf("gen_ai.conversation.id", cid);
        self.attr_str("gen_ai.output.type", "text");
        let temp = *self.rng.pick(&[0.0, 0.2, 0.3, 0.5, 0.7, 1.0]);
        self.attr("gen_ai.request.temperature", Val::F64(temp));
        let max_tokens = *self.rng.pick(&[1024i64, 2048, 4096]);
        self.attr("gen_ai.request.max_tokens", Val::Int(max_tokens));
        if samples_top_k(provider) {
            let k = *self.rng.pick(&[5i64, 20, 40, 64]);
            let v = self.t.semconv.top_k(k);
            self.attr("gen_ai.request.top_k", v);
        }
        if !tool_calls.is_empty() {
            let defs = c::tool_definitions(&mut self.t.text, tool_calls);
            self.attr_buf("gen_ai.tool.definitions", defs);
        }
        self.attr_str("server.address", server_of(provider));
        self.attr("server.port", Val::Int(443));
        self.attr_buf("gen_ai.system_instructions", system);
        self.attr_buf("gen_ai.input.messages", input);
        self.attr("gen_ai.usage.input_tokens", Val::Int(input_tokens as i64));
        let error = if let Some(out) = output {
            let rid = {
                let at = c::mark(&self.t.text);
                ident(&mut self.t.text, self.rng, if provider == "anthropic" { "msg_" } else { "chatcmpl-" }, 24);
                c::since(&self.t.text, at)
            };
            self.attr_buf("gen_ai.response.id", rid);
            let resp_model = self.response_model(model);
            self.attr_buf("gen_ai.response.model", resp_model);
            self.attr_list("gen_ai.response.finish_reasons", &[finish]);
            self.attr("gen_ai.usage.output_tokens", Val::Int(out_tokens as i64));
            self.usage_details(conv, provider, model, input_tokens, out_tokens);
            self.attr_buf("gen_ai.output.messages", out);
            None
        } else {
            Some(self.error(LLM_ERRORS, &format!("{provider}."), end))
        };
        self.push_span(
            Head {
                resource: conv.resource,
                id,
                parent,
                name: Str::Lit(span_name.as_str()),
                kind: SpanKind::Client,
                start,
                end,
            },
            a0,
            error,
        );
        end
    }

    /// The parts of a successful call's token usage that providers report: prompt-cache reads
    /// and writes, and reasoning tokens (both included in the totals, as the conventions say).
    ///
    /// The cache holds the conversation's previous prompt, so a call reads it back in the
    /// providers' 128-token steps once it is 1024 tokens long (OpenAI's minimum); providers that
    /// cache explicitly (Anthropic, Bedrock) also report writing the rest. Reasoning models
    /// spend a share of their output thinking.
    fn usage_details(&mut self, conv: &mut Conv<'s>, provider: &str, model: &str, input: u64, output: u64) {
        let read = if conv.cached_prefix >= 1024 { conv.cached_prefix.min(input) / 128 * 128 } else { 0 };
        conv.cached_prefix = input;
        self.attr("gen_ai.usage.cache_read.input_tokens", Val::Int(read as i64));
        if matches!(provider, "anthropic" | "aws.bedrock") {
            let write = if input >= 1024 { input - read } else { 0 };
            let key = self.t.semconv.cache_write_key();
            self.attr(key, Val::Int(write as i64));
        }
        if reasons(model) {
            let share = 0.2 + 0.4 * self.rng.unit();
            self.attr("gen_ai.usage.reasoning.output_tokens", Val::Int((output as f64 * share) as i64));
        }
    }

    fn response_model(&mut self, model: &str) -> Range {
        let at = c::mark(&self.t.text);
        self.t.text.extend_from_slice(model.as_bytes());
        if !model.chars().rev().take(4).all(|ch| ch.is_ascii_digit()) {
            self.t.text.extend_from_slice(b"-2025-04-14");
        }
        c::since(&self.t.text, at)
    }

    pub(super) fn tool(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        let Op::Tool { tool, description, span_name, result_chars, context_share } = &node.op else { unreachable!() };
        let id = self.span_id();
        let end = start + self.ms(&node.duration_ms);
        let fails = self.fails(node);
        let call_id = match conv.pending.iter().position(|(t, _)| *t == tool.as_str()) {
            Some(i) => conv.pending.remove(i).1,
            None => {
                let at = c::mark(&self.t.text);
                ident(&mut self.t.text, self.rng, "call_", 24);
                c::since(&self.t.text, at)
            }
        };
        let args = c::arguments(&mut self.t.text, self.rng);
        let max = self.sc.source.max_content_bytes;
        let result = (!fails).then(|| {
            let chars = (self.rng.sample(result_chars) as usize).min(max);
            c::tool_result(&mut self.t.text, self.rng, chars)
        });
        let a0 = self.t.attrs.len() as u32;
        self.attr_str("gen_ai.operation.name", "execute_tool");
        self.attr_str("gen_ai.tool.name", tool);
        self.attr_buf("gen_ai.tool.call.id", call_id);
        self.attr_str("gen_ai.tool.type", "function");
        if !description.is_empty() {
            self.attr_str("gen_ai.tool.description", description);
        }
        self.attr_buf("gen_ai.tool.call.arguments", args);
        let cid = self.conversation_id;
        self.attr_buf("gen_ai.conversation.id", cid);
        let error = match result {
            Some(r) => {
                self.attr_buf("gen_ai.tool.call.result", r);
                let msg = if *context_share >= 1.0 {
                    c::tool_message(&mut self.t.text, call_id, r, false)
                } else {
                    let summary = c::text(&mut self.t.text, self.rng, (r.1 as f64 * context_share) as usize);
                    c::tool_message(&mut self.t.text, call_id, summary, true)
                };
                self.push_msg(conv, msg);
                None
            }
            None => {
                let e = self.error(TOOL_ERRORS, "", end);
                let Str::Lit(msg) = e.0 else { unreachable!("error messages are literals") };
                let at = c::mark(&self.t.text);
                self.t.text.extend_from_slice(b"error: ");
                self.t.text.extend_from_slice(msg.as_bytes());
                let r = c::since(&self.t.text, at);
                let msg = c::tool_message(&mut self.t.text, call_id, r, true);
                self.push_msg(conv, msg);
                Some(e)
            }
        };
        self.push_span(
            Head {
                resource: conv.resource,
                id,
                parent,
                name: Str::Lit(span_name.as_str()),
                kind: SpanKind::Internal,
                start,
                end,
            },
            a0,
            error,
        );
        end
    }

    pub(super) fn retrieval(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        let Op::Retrieval { data_source, span_name, documents, doc_chars, context_share } = &node.op else {
            unreachable!()
        };
        let id = self.span_id();
        let end = start + self.ms(&node.duration_ms);
        let fails = self.fails(node);
        let query = {
            let at = c::mark(&self.t.text);
            let words = 5 + self.rng.below(10);
            super::text::phrase(&mut self.t.text, self.rng, words);
            c::since(&self.t.text, at)
        };
        let mut docs = None;
        if !fails {
            let n = self.rng.sample_count(documents) as usize;
            let mut contents = Vec::with_capacity(n);
            let dc = *doc_chars;
            let max = self.sc.source.max_content_bytes;
            let per_doc_cap = max / 2 / n.max(1);
            let d = c::documents(
                &mut self.t.text,
                self.rng,
                n,
                &mut |r: &mut TraceRng| (r.sample(&dc) as usize).min(per_doc_cap),
                &mut contents,
            );
            docs = Some(d);
            // The retrieved passages become context for the next model call.
            let at = c::mark(&self.t.text);
            self.t.text.extend_from_slice(b"Use the following documents to answer.");
            for r in &contents {
                self.t.text.extend_from_slice(b"\\n\\n");
                // Below a share of 1 the model gets only the start of each passage.
                let keep = c::word_prefix(&self.t.text, *r, (r.1 as f64 * context_share) as u32);
                c::copy(&mut self.t.text, (r.0, keep));
            }
            let ctx = c::since(&self.t.text, at);
            let msg = c::text_message(&mut self.t.text, "user", ctx);
            self.push_msg(conv, msg);
        }
        let a0 = self.t.attrs.len() as u32;
        self.attr_str("gen_ai.operation.name", "retrieval");
        self.attr_str("gen_ai.data_source.id", data_source);
        self.attr_buf("gen_ai.retrieval.query.text", query);
        let error = match docs {
            Some(d) => {
                self.attr_buf("gen_ai.retrieval.documents", d);
                None
            }
            None => Some(self.error(RETRIEVAL_ERRORS, "", end)),
        };
        self.push_span(
            Head {
                resource: conv.resource,
                id,
                parent,
                name: Str::Lit(span_name.as_str()),
                kind: SpanKind::Client,
                start,
                end,
            },
            a0,
            error,
        );
        end
    }

    pub(super) fn embeddings(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        let Op::Embeddings { model, provider, span_name, dimensions, input_tokens } = &node.op else { unreachable!() };
        let id = self.span_id();
        let end = start + self.ms(&node.duration_ms);
        let fails = self.fails(node);
        let tokens = self.rng.sample_count(input_tokens).max(1);
        self.t.tokens += tokens;
        let a0 = self.t.attrs.len() as u32;
        self.attr_str("gen_ai.operation.name", "embeddings");
        self.attr_str("gen_ai.provider.name", provider);
        self.attr_str("gen_ai.request.model", model);
        self.attr("gen_ai.embeddings.dimension.count", Val::Int(i64::from(*dimensions)));
        self.attr("gen_ai.usage.input_tokens", Val::Int(tokens as i64));
        self.attr_str("server.address", server_of(provider));
        self.attr("server.port", Val::Int(443));
        let error = fails.then(|| self.error(LLM_ERRORS, &format!("{provider}."), end));
        self.push_span(
            Head {
                resource: conv.resource,
                id,
                parent,
                name: Str::Lit(span_name.as_str()),
                kind: SpanKind::Client,
                start,
                end,
            },
            a0,
            error,
        );
        end
    }
}

/// Whether a provider's API takes a top-k sampling setting (OpenAI's does not).
fn samples_top_k(provider: &str) -> bool {
    matches!(provider, "anthropic" | "aws.bedrock" | "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" | "cohere")
}

/// Whether `model` is a reasoning model, whose output tokens include reasoning tokens.
fn reasons(model: &str) -> bool {
    ["o1", "o3", "o4", "gpt-5", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4", "claude-3-7", "gemini-2.5"]
        .iter()
        .any(|p| model.starts_with(p))
        || model.contains("reasoner")
}

fn server_of(provider: &str) -> &'static str {
    match provider {
        "openai" => "api.openai.com",
        "anthropic" => "api.anthropic.com",
        "azure.ai.openai" => "traceblast.openai.azure.com",
        "gcp.gemini" => "generativelanguage.googleapis.com",
        "gcp.vertex_ai" => "aiplatform.googleapis.com",
        "aws.bedrock" => "bedrock-runtime.us-east-1.amazonaws.com",
        "mistral_ai" => "api.mistral.ai",
        "cohere" => "api.cohere.com",
        _ => "llm.internal",
    }
}
