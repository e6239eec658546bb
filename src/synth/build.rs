//! Runs a compiled scenario's workflow into a [`Trace`].
//!
//! Time is simulated: every step gets a start and a duration drawn from its distribution;
//! sequential steps follow each other with a small gap, parallel branches share a start, and a
//! container (agent, sequence, parallel) spans its children plus its own overhead, so children
//! always lie inside their parent. Spans are recorded when they end — children before parents,
//! as an SDK's batch processor exports them — and at the end all times are shifted so the root
//! ends exactly at [`EPOCH_NS`].
//!
//! Each agent keeps a conversation: its system prompt, the request, and every message since
//! (answers, tool calls, tool results, retrieved context). A model call's input is that whole
//! history, as chat APIs receive it, truncated to the scenario's `max_content_bytes` by
//! dropping the oldest turns; its token usage counts the untruncated history.

use super::content::{self as c, Range};
use super::rng::TraceRng;
use super::text::ident;
use super::trace::*;
use crate::scenario::{CAgent, Compiled, Dist, Node, Op, parse_entry};

/// Gap between sequential steps.
const GAP_MS: Dist = Dist::LogNormal { median: 0.15, sigma: 0.5 };
/// Network time of a remote call before the server side starts.
const NET_MS: Dist = Dist::LogNormal { median: 0.6, sigma: 0.4 };
/// Characters per token, for deriving token counts from text and text from tokens.
const CHARS_PER_TOKEN: u64 = 4;

fn ns(ms: f64) -> u64 {
    ((ms * 1e6) as u64).max(1_000)
}

/// One agent's conversation state.
struct Conv<'s> {
    agent: &'s CAgent,
    resource: u16,
    system: Range,
    /// JSON fragments of the messages so far; `msgs[0]` is the request.
    msgs: Vec<Range>,
    /// Size of all messages, untruncated.
    history_bytes: usize,
    /// Tool calls asked for and not answered yet: (tool name, call id).
    pending: Vec<(&'s str, Range)>,
    /// Text of the most recent plain answer.
    last_answer: Option<Range>,
}

struct Ctx<'s, 't> {
    sc: &'s Compiled,
    rng: &'t mut TraceRng,
    t: &'t mut Trace<'s>,
    conversation_id: Range,
    /// Ordinal of the failable step that fails (trace-level error), if any.
    fail_at: Option<u32>,
    failable_seen: u32,
}

/// Builds the trace for scenario `sc` (id `scenario`) from `rng`.
pub fn run<'s>(sc: &'s Compiled, scenario: u16, seed: u64, rng: &mut TraceRng, t: &mut Trace<'s>) {
    rng.fill(&mut t.trace_id);
    t.scenario = scenario;
    let fail_at =
        (sc.min_failable > 0 && rng.chance(sc.source.error_rate)).then(|| rng.below(sc.min_failable as usize) as u32);
    let conversation_id = {
        let at = c::mark(&t.text);
        ident(&mut t.text, rng, "conv_", 24);
        c::since(&t.text, at)
    };
    for (i, svc) in sc.services.iter().enumerate() {
        let a0 = t.attrs.len() as u32;
        resource_attrs(t, seed, svc, i);
        t.resources.push(Resource { service: svc, attrs: (a0, t.attrs.len() as u32) });
    }
    let mut cx = Ctx { sc, rng, t, conversation_id, fail_at, failable_seen: 0 };
    cx.root();
    // Export order: by end time (a batch processor exports spans as they end).
    cx.t.spans.sort_by_key(|s| s.end);
    let root_end = cx.t.spans.iter().map(|s| s.end).max().unwrap_or(0);
    let shift = EPOCH_NS - root_end;
    for s in &mut cx.t.spans {
        s.start += shift;
        s.end += shift;
    }
    for e in &mut cx.t.events {
        e.time += shift;
    }
}

fn resource_attrs<'s>(t: &mut Trace<'s>, seed: u64, svc: &'s crate::scenario::Service, i: usize) {
    let h = xxhash_rust::xxh3::xxh3_128_with_seed(svc.name.as_bytes(), seed);
    let at = c::mark(&t.text);
    let b = h.to_le_bytes();
    // service.instance.id as a UUIDv4-shaped string, stable for (seed, service).
    let hex = |x: &[u8]| x.iter().map(|v| format!("{v:02x}")).collect::<String>();
    let uuid = format!(
        "{}-{}-4{}-a{}-{}",
        hex(&b[0..4]),
        hex(&b[4..6]),
        &hex(&b[6..8])[1..],
        &hex(&b[8..10])[1..],
        hex(&b[10..16])
    );
    t.text.extend_from_slice(uuid.as_bytes());
    let instance = c::since(&t.text, at);
    let at = c::mark(&t.text);
    t.text.extend_from_slice(format!("ip-10-{}-{}-{}", (b[0] % 32) + i as u8, b[1], b[2]).as_bytes());
    let host = c::since(&t.text, at);
    let s = |r: Range| Val::Str(Str::Buf { at: r.0, len: r.1 });
    let lit = |v: &'s str| Val::Str(Str::Lit(v));
    let sdk_version = match svc.language.as_str() {
        "python" => "1.38.0",
        "nodejs" => "2.2.0",
        "go" => "1.38.0",
        "java" => "1.55.0",
        _ => "1.38.0",
    };
    for (key, val) in [
        ("service.name", lit(&svc.name)),
        ("service.version", lit(&svc.version)),
        ("service.instance.id", s(instance)),
        ("deployment.environment.name", lit(&svc.environment)),
        ("host.name", s(host)),
        ("telemetry.sdk.name", lit("opentelemetry")),
        ("telemetry.sdk.language", lit(&svc.language)),
        ("telemetry.sdk.version", lit(sdk_version)),
    ] {
        t.attrs.push(Attr { key, val });
    }
}

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
    fn span_id(&mut self) -> [u8; 8] {
        let mut id = [0u8; 8];
        self.rng.fill(&mut id);
        if id == [0; 8] {
            id[7] = 1;
        }
        id
    }

    fn ms(&mut self, d: &Dist) -> u64 {
        ns(self.rng.sample(d))
    }

    fn buf(&self, r: Range) -> Str<'s> {
        Str::Buf { at: r.0, len: r.1 }
    }

    fn attr(&mut self, key: &'s str, val: Val<'s>) {
        self.t.attrs.push(Attr { key, val });
    }

    fn attr_str(&mut self, key: &'s str, v: &'s str) {
        self.attr(key, Val::Str(Str::Lit(v)));
    }

    fn attr_buf(&mut self, key: &'s str, r: Range) {
        let v = Val::Str(self.buf(r));
        self.attr(key, v);
    }

    fn attr_list(&mut self, key: &'s str, items: &[&'s str]) {
        let at = self.t.lists.len() as u32;
        self.t.lists.extend(items.iter().map(|s| Str::Lit(s)));
        self.attr(key, Val::StrList { at, len: items.len() as u32 });
    }

    /// Records a span whose attributes were pushed from index `a0` on.
    #[allow(clippy::too_many_arguments)]
    fn push_span(
        &mut self,
        resource: u16,
        id: [u8; 8],
        parent: [u8; 8],
        name: Str<'s>,
        kind: SpanKind,
        start: u64,
        end: u64,
        a0: u32,
        error: Option<(Str<'s>, u32)>,
    ) {
        let (error, events) = match error {
            Some((msg, e0)) => (Some(msg), (e0, self.t.events.len() as u32)),
            None => (None, (0, 0)),
        };
        self.t.spans.push(Span {
            resource,
            id,
            parent,
            remote_parent: false,
            name,
            kind,
            start,
            end,
            attrs: (a0, self.t.attrs.len() as u32),
            events,
            error,
        });
    }

    /// Decides whether the next failable step fails.
    fn fails(&mut self, node: &Node) -> bool {
        let hit = self.fail_at == Some(self.failable_seen);
        self.failable_seen += 1;
        let extra = self.rng.chance(node.error_rate);
        hit || extra
    }

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

    fn new_conv(&mut self, agent: &'s CAgent, resource: u16) -> Conv<'s> {
        let sys_len = self.rng.sample(&agent.system_prompt_chars) as usize;
        let system = c::text(&mut self.t.text, self.rng, sys_len);
        let user_len = self.rng.sample(&agent.user_prompt_chars) as usize;
        let request = c::text(&mut self.t.text, self.rng, user_len);
        let first = c::text_message(&mut self.t.text, "user", request);
        Conv {
            agent,
            resource,
            system,
            msgs: vec![first],
            history_bytes: first.1 as usize,
            pending: Vec::new(),
            last_answer: None,
        }
    }

    fn push_msg(&mut self, conv: &mut Conv<'s>, m: Range) {
        conv.history_bytes += m.1 as usize + 1;
        conv.msgs.push(m);
    }

    /// `[msg, msg, …]` of the conversation, oldest turns dropped (the request kept) to fit
    /// `max_content_bytes`.
    fn input_messages(&mut self, conv: &Conv<'s>) -> Range {
        let max = self.sc.source.max_content_bytes;
        let mut total: usize = 2 + conv.msgs.iter().map(|m| m.1 as usize + 1).sum::<usize>();
        let mut skip_to = 1;
        while total > max && skip_to < conv.msgs.len() - 1 {
            total -= conv.msgs[skip_to].1 as usize + 1;
            skip_to += 1;
        }
        let at = c::mark(&self.t.text);
        self.t.text.push(b'[');
        c::copy(&mut self.t.text, conv.msgs[0]);
        for m in &conv.msgs[skip_to.max(1)..] {
            self.t.text.push(b',');
            c::copy(&mut self.t.text, *m);
        }
        self.t.text.push(b']');
        c::since(&self.t.text, at)
    }

    fn root(&mut self) {
        let sc = self.sc;
        let entry = sc.services[0].entry.as_deref().and_then(parse_entry);
        let root_id = self.span_id();
        let mut conv = self.new_conv(&sc.agent, 0);
        match entry {
            None => {
                self.agent_span(&mut conv, &sc.steps, root_id, [0; 8], 0, Some(Dist::Const(0.0)));
            }
            Some((method, route)) => {
                let agent_id = self.span_id();
                let pre = self.ms(&NET_MS) / 2;
                let end = self.agent_span(&mut conv, &sc.steps, agent_id, root_id, pre, None);
                let end = end + pre;
                let a0 = self.t.attrs.len() as u32;
                self.http_server_attrs(method, route, &sc.services[0].name);
                self.attr_str("traceblast.scenario", &sc.source.name);
                let name = self.http_name(method, route);
                self.push_span(0, root_id, [0; 8], name, SpanKind::Server, 0, end, a0, None);
            }
        }
    }

    fn http_name(&mut self, method: &str, route: &str) -> Str<'s> {
        let at = c::mark(&self.t.text);
        self.t.text.extend_from_slice(method.as_bytes());
        self.t.text.push(b' ');
        self.t.text.extend_from_slice(route.as_bytes());
        let r = c::since(&self.t.text, at);
        self.buf(r)
    }

    fn http_server_attrs(&mut self, method: &str, route: &str, host: &str) {
        let m = c::mark(&self.t.text);
        self.t.text.extend_from_slice(method.as_bytes());
        let mr = c::since(&self.t.text, m);
        let r = c::mark(&self.t.text);
        self.t.text.extend_from_slice(route.as_bytes());
        let rr = c::since(&self.t.text, r);
        let h = c::mark(&self.t.text);
        self.t.text.extend_from_slice(host.as_bytes());
        self.t.text.extend_from_slice(b".internal");
        let hr = c::since(&self.t.text, h);
        self.attr_buf("http.request.method", mr);
        self.attr_buf("http.route", rr);
        self.attr_buf("url.path", rr);
        self.attr_str("url.scheme", "https");
        self.attr_buf("server.address", hr);
        self.attr("server.port", Val::Int(443));
        self.attr("http.response.status_code", Val::Int(200));
        self.attr_str("network.protocol.version", "1.1");
        self.attr_str("user_agent.original", "python-httpx/0.28.1");
    }

    /// An `invoke_agent` span running `steps` from `start`; returns its end. `overhead`
    /// overrides the default container overhead (root: none).
    fn agent_span(
        &mut self,
        conv: &mut Conv<'s>,
        steps: &'s [Node],
        id: [u8; 8],
        parent: [u8; 8],
        start: u64,
        overhead: Option<Dist>,
    ) -> u64 {
        let over = self.ms(&overhead.unwrap_or(Dist::LogNormal { median: 0.4, sigma: 0.4 }));
        let end = self.run_nodes(conv, steps, id, start + over / 2) + over / 2;
        if conv.last_answer.is_none() {
            let len = 200 + self.rng.below(400);
            let r = c::text(&mut self.t.text, self.rng, len);
            conv.last_answer = Some(r);
        }
        let a0 = self.t.attrs.len() as u32;
        let agent = conv.agent;
        self.attr_str("gen_ai.operation.name", "invoke_agent");
        self.attr_str("gen_ai.provider.name", &agent.provider);
        self.attr_str("gen_ai.agent.name", &agent.name);
        self.attr_str("gen_ai.agent.id", &agent.id);
        if !agent.description.is_empty() {
            self.attr_str("gen_ai.agent.description", &agent.description);
        }
        self.attr_str("gen_ai.request.model", &agent.model);
        let cid = self.conversation_id;
        self.attr_buf("gen_ai.conversation.id", cid);
        if parent == [0; 8] {
            self.attr_str("traceblast.scenario", &self.sc.source.name);
        }
        let name = Str::Lit(agent.span_name.as_str());
        self.push_span(conv.resource, id, parent, name, SpanKind::Internal, start, end, a0, None);
        end
    }

    fn run_nodes(&mut self, conv: &mut Conv<'s>, nodes: &'s [Node], parent: [u8; 8], start: u64) -> u64 {
        let mut t = start;
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                t += self.ms(&GAP_MS);
            }
            t = self.run_node(conv, n, parent, t);
        }
        t
    }

    fn run_node(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        if node.probability < 1.0 && !self.rng.chance(node.probability) {
            return start;
        }
        let reps = self.rng.sample_count(&node.repeat);
        let mut t = start;
        for r in 0..reps {
            if r > 0 {
                t += self.ms(&GAP_MS);
            }
            t = self.exec(conv, node, parent, t);
        }
        t
    }

    fn exec(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
        match &node.op {
            Op::Sequence(steps) => {
                let over = self.ms(&node.duration_ms);
                self.run_nodes(conv, steps, parent, start + over / 2) + over / 2
            }
            Op::Parallel(steps) => {
                let over = self.ms(&node.duration_ms);
                let s = start + over / 2;
                let mut end = s;
                for n in steps {
                    end = end.max(self.run_node(conv, n, parent, s));
                }
                end + over / 2
            }
            Op::Agent { agent, service, steps } => self.delegate(conv, node, agent, *service, steps, parent, start),
            Op::Llm { .. } => self.llm(conv, node, parent, start),
            Op::Tool { .. } => self.tool(conv, node, parent, start),
            Op::Retrieval { .. } => self.retrieval(conv, node, parent, start),
            Op::Embeddings { .. } => self.embeddings(conv, node, parent, start),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn delegate(
        &mut self,
        conv: &mut Conv<'s>,
        node: &'s Node,
        agent: &'s CAgent,
        service: Option<u16>,
        steps: &'s [Node],
        parent: [u8; 8],
        start: u64,
    ) -> u64 {
        let over = Some(node.duration_ms);
        match service {
            None => {
                let mut sub = self.new_conv(agent, conv.resource);
                let id = self.span_id();
                let end = self.agent_span(&mut sub, steps, id, parent, start, over);
                self.answer_back(conv, &sub);
                end
            }
            Some(svc) => {
                // CLIENT invoke_agent here → SERVER span in the agent's service → its agent span.
                let client_id = self.span_id();
                let server_id = self.span_id();
                let agent_id = self.span_id();
                let net = self.ms(&NET_MS);
                let server_start = start + net;
                let mut sub = self.new_conv(agent, svc);
                let agent_end = self.agent_span(&mut sub, steps, agent_id, server_id, server_start + net / 4, over);
                let server_end = agent_end + net / 4;
                let end = server_end + net;
                let services = &self.sc.services;
                let (method, route) = services[svc as usize]
                    .entry
                    .as_deref()
                    .and_then(parse_entry)
                    .unwrap_or(("POST", "/v1/agents/invoke"));
                let host = &services[svc as usize].name;
                let a0 = self.t.attrs.len() as u32;
                self.http_server_attrs(method, route, host);
                let name = self.http_name(method, route);
                self.push_span(svc, server_id, client_id, name, SpanKind::Server, server_start, server_end, a0, None);
                self.t.spans.last_mut().expect("just pushed").remote_parent = true;
                let a0 = self.t.attrs.len() as u32;
                self.attr_str("gen_ai.operation.name", "invoke_agent");
                self.attr_str("gen_ai.provider.name", &agent.provider);
                self.attr_str("gen_ai.agent.name", &agent.name);
                self.attr_str("gen_ai.agent.id", &agent.id);
                self.attr_str("gen_ai.request.model", &agent.model);
                let cid = self.conversation_id;
                self.attr_buf("gen_ai.conversation.id", cid);
                self.attr_str("server.address", host);
                self.attr("server.port", Val::Int(443));
                self.push_span(
                    conv.resource,
                    client_id,
                    parent,
                    Str::Lit(agent.span_name.as_str()),
                    SpanKind::Client,
                    start,
                    end,
                    a0,
                    None,
                );
                self.answer_back(conv, &sub);
                end
            }
        }
    }

    /// Puts a delegated agent's answer into the caller's conversation: as the response to a
    /// pending tool call that names the agent (a handoff tool), else as an assistant turn.
    fn answer_back(&mut self, conv: &mut Conv<'s>, sub: &Conv<'s>) {
        let answer = sub.last_answer.expect("agent_span sets an answer");
        let name = sub.agent.name.as_str();
        let msg = match conv.pending.iter().position(|(tool, _)| tool.ends_with(name)) {
            Some(i) => {
                let (_, id) = conv.pending.remove(i);
                c::tool_message(&mut self.t.text, id, answer, true)
            }
            None => {
                let part = c::text_part(&mut self.t.text, answer);
                c::assistant_message(&mut self.t.text, part)
            }
        };
        self.push_msg(conv, msg);
    }

    fn llm(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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
            self.attr_buf("gen_ai.output.messages", out);
            None
        } else {
            Some(self.error(LLM_ERRORS, &format!("{provider}."), end))
        };
        self.push_span_split(
            conv.resource,
            id,
            parent,
            Str::Lit(span_name.as_str()),
            SpanKind::Client,
            start,
            end,
            a0,
            error,
        );
        end
    }

    /// Pushes a span whose attribute range may have been interleaved with an error event's
    /// attributes: the event attributes are moved after the span's own.
    #[allow(clippy::too_many_arguments)]
    fn push_span_split(
        &mut self,
        resource: u16,
        id: [u8; 8],
        parent: [u8; 8],
        name: Str<'s>,
        kind: SpanKind,
        start: u64,
        end: u64,
        a0: u32,
        error: Option<(Str<'s>, u32)>,
    ) {
        if let Some((_, e0)) = error {
            // Attributes were pushed as: span attrs…, error.type, [event attrs], so split them.
            let ev = self.t.events[e0 as usize];
            let (ea, eb) = (ev.attrs.0 as usize, ev.attrs.1 as usize);
            let event_attrs: Vec<Attr<'s>> = self.t.attrs.drain(ea..eb).collect();
            let new_ea = self.t.attrs.len() as u32;
            self.push_span(resource, id, parent, name, kind, start, end, a0, error);
            self.t.attrs.extend(event_attrs);
            self.t.events[e0 as usize].attrs = (new_ea, self.t.attrs.len() as u32);
        } else {
            self.push_span(resource, id, parent, name, kind, start, end, a0, None);
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

    fn tool(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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
        self.push_span_split(
            conv.resource,
            id,
            parent,
            Str::Lit(span_name.as_str()),
            SpanKind::Internal,
            start,
            end,
            a0,
            error,
        );
        end
    }

    fn retrieval(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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
        self.push_span_split(
            conv.resource,
            id,
            parent,
            Str::Lit(span_name.as_str()),
            SpanKind::Client,
            start,
            end,
            a0,
            error,
        );
        end
    }

    fn embeddings(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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
        self.push_span_split(
            conv.resource,
            id,
            parent,
            Str::Lit(span_name.as_str()),
            SpanKind::Client,
            start,
            end,
            a0,
            error,
        );
        end
    }
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
