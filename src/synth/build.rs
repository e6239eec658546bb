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
use crate::scenario::bound::{AGENT_OVERHEAD_MS, GAP_MS, NET_MS};
use crate::scenario::{CAgent, Compiled, Dist, Node, Op, parse_entry};
/// Characters per token, for deriving token counts from text and text from tokens.
pub(super) const CHARS_PER_TOKEN: u64 = 4;

fn ns(ms: f64) -> u64 {
    ((ms * 1e6) as u64).max(1_000)
}

/// One agent's conversation state.
pub(super) struct Conv<'s> {
    pub(super) agent: &'s CAgent,
    pub(super) resource: u16,
    pub(super) system: Range,
    /// JSON fragments of the messages so far; `msgs[0]` is the request.
    pub(super) msgs: Vec<Range>,
    /// Size of all messages, untruncated.
    pub(super) history_bytes: usize,
    /// Tool calls asked for and not answered yet: (tool name, call id).
    pub(super) pending: Vec<(&'s str, Range)>,
    /// Text of the most recent plain answer.
    pub(super) last_answer: Option<Range>,
    /// Input tokens of the conversation's previous model call: the prefix a provider's prompt
    /// cache may hold for the next one.
    pub(super) cached_prefix: u64,
}

/// Where and when a span is, apart from its attributes.
pub(super) struct Head<'s> {
    pub(super) resource: u16,
    pub(super) id: [u8; 8],
    pub(super) parent: [u8; 8],
    pub(super) name: Str<'s>,
    pub(super) kind: SpanKind,
    pub(super) start: u64,
    pub(super) end: u64,
}

pub(super) struct Ctx<'s, 't> {
    pub(super) sc: &'s Compiled,
    pub(super) rng: &'t mut TraceRng,
    pub(super) t: &'t mut Trace<'s>,
    pub(super) conversation_id: Range,
    /// Ordinal of the failable step that fails (trace-level error), if any.
    pub(super) fail_at: Option<u32>,
    pub(super) failable_seen: u32,
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

impl<'s> Ctx<'s, '_> {
    pub(super) fn span_id(&mut self) -> [u8; 8] {
        let mut id = [0u8; 8];
        self.rng.fill(&mut id);
        if id == [0; 8] {
            id[7] = 1;
        }
        id
    }

    pub(super) fn ms(&mut self, d: &Dist) -> u64 {
        ns(self.rng.sample(d))
    }

    pub(super) fn buf(&self, r: Range) -> Str<'s> {
        Str::Buf { at: r.0, len: r.1 }
    }

    pub(super) fn attr(&mut self, key: &'s str, val: Val<'s>) {
        self.t.attrs.push(Attr { key, val });
    }

    pub(super) fn attr_str(&mut self, key: &'s str, v: &'s str) {
        self.attr(key, Val::Str(Str::Lit(v)));
    }

    pub(super) fn attr_buf(&mut self, key: &'s str, r: Range) {
        let v = Val::Str(self.buf(r));
        self.attr(key, v);
    }

    pub(super) fn attr_list(&mut self, key: &'s str, items: &[&'s str]) {
        let at = self.t.lists.len() as u32;
        self.t.lists.extend(items.iter().map(|s| Str::Lit(s)));
        self.attr(key, Val::StrList { at, len: items.len() as u32 });
    }

    /// Records a span whose attributes were pushed from index `a0` on. A failing step pushed
    /// its exception event's attributes in the middle of its own (`error` names the event); they
    /// are moved after the span's range so that both ranges stay contiguous.
    pub(super) fn push_span(&mut self, h: Head<'s>, a0: u32, error: Option<(Str<'s>, u32)>) {
        let mut moved: Vec<Attr<'s>> = Vec::new();
        let (error, events) = match error {
            Some((msg, e0)) => {
                let ev = self.t.events[e0 as usize];
                moved.extend(self.t.attrs.drain(ev.attrs.0 as usize..ev.attrs.1 as usize));
                (Some(msg), (e0, self.t.events.len() as u32))
            }
            None => (None, (0, 0)),
        };
        let end = self.t.attrs.len() as u32;
        let Head { resource, id, parent, name, kind, start, end: span_end } = h;
        self.t.spans.push(Span {
            resource,
            id,
            parent,
            remote_parent: false,
            name,
            kind,
            start,
            end: span_end,
            attrs: (a0, end),
            events,
            error,
        });
        if error.is_some() {
            self.t.events[events.0 as usize].attrs = (end, end + moved.len() as u32);
            self.t.attrs.extend(moved);
        }
    }

    /// Decides whether the next failable step fails.
    pub(super) fn fails(&mut self, node: &Node) -> bool {
        let hit = self.fail_at == Some(self.failable_seen);
        self.failable_seen += 1;
        let extra = self.rng.chance(node.error_rate);
        hit || extra
    }

    pub(super) fn new_conv(&mut self, agent: &'s CAgent, resource: u16) -> Conv<'s> {
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
            cached_prefix: 0,
        }
    }

    pub(super) fn push_msg(&mut self, conv: &mut Conv<'s>, m: Range) {
        conv.history_bytes += m.1 as usize + 1;
        conv.msgs.push(m);
    }

    /// `[msg, msg, …]` of the conversation, oldest turns dropped (the request kept) to fit
    /// `max_content_bytes`.
    pub(super) fn input_messages(&mut self, conv: &Conv<'s>) -> Range {
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

    pub(super) fn root(&mut self) {
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
                self.push_span(
                    Head { resource: 0, id: root_id, parent: [0; 8], name, kind: SpanKind::Server, start: 0, end },
                    a0,
                    None,
                );
            }
        }
    }

    pub(super) fn http_name(&mut self, method: &str, route: &str) -> Str<'s> {
        let at = c::mark(&self.t.text);
        self.t.text.extend_from_slice(method.as_bytes());
        self.t.text.push(b' ');
        self.t.text.extend_from_slice(route.as_bytes());
        let r = c::since(&self.t.text, at);
        self.buf(r)
    }

    pub(super) fn http_server_attrs(&mut self, method: &str, route: &str, host: &str) {
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
    pub(super) fn agent_span(
        &mut self,
        conv: &mut Conv<'s>,
        steps: &'s [Node],
        id: [u8; 8],
        parent: [u8; 8],
        start: u64,
        overhead: Option<Dist>,
    ) -> u64 {
        let over = self.ms(&overhead.unwrap_or(AGENT_OVERHEAD_MS));
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
        self.push_span(
            Head { resource: conv.resource, id, parent, name, kind: SpanKind::Internal, start, end },
            a0,
            None,
        );
        end
    }

    pub(super) fn run_nodes(&mut self, conv: &mut Conv<'s>, nodes: &'s [Node], parent: [u8; 8], start: u64) -> u64 {
        let mut t = start;
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                t += self.ms(&GAP_MS);
            }
            t = self.run_node(conv, n, parent, t);
        }
        t
    }

    pub(super) fn run_node(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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

    pub(super) fn exec(&mut self, conv: &mut Conv<'s>, node: &'s Node, parent: [u8; 8], start: u64) -> u64 {
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
    pub(super) fn delegate(
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
                self.push_span(
                    Head {
                        resource: svc,
                        id: server_id,
                        parent: client_id,
                        name,
                        kind: SpanKind::Server,
                        start: server_start,
                        end: server_end,
                    },
                    a0,
                    None,
                );
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
                    Head {
                        resource: conv.resource,
                        id: client_id,
                        parent,
                        name: Str::Lit(agent.span_name.as_str()),
                        kind: SpanKind::Client,
                        start,
                        end,
                    },
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
    pub(super) fn answer_back(&mut self, conv: &mut Conv<'s>, sub: &Conv<'s>) {
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
}
