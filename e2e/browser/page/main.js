// The page of browser_test.go: served from an origin of its own, it calls
// the embedded demo through a real sluice gateway with third-party browser
// clients, and publishes what each call returned in window.results (a map
// from case name to {ok, value} or {ok: false, error}) and
// window.done = true once every case ended.
//
// Query parameters: gw, the gateway's base URL; token, a bearer token with
// the demo's write scope; cases, a comma-separated list of cases to run
// (all by default).
//
// grpc-web's typings name thenableCall, but its 2.x build exports the
// promise-returning call as unaryCall only.
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { GrpcWebClientBase, MethodDescriptor, MethodType } from "grpc-web";

const params = new URLSearchParams(location.search);
const gw = params.get("gw");
const token = params.get("token");
const only = params.get("cases") ? params.get("cases").split(",") : null;
const service = "sluice.demo.library.v1.LibraryService";
const results = {};
window.results = results;

// The demo's contracts, read at run time from its descriptor set: no code
// generated for the page. A failure here ends the page at once, as the
// "setup" result.
let library;
try {
  const set = fromBinary(FileDescriptorSetSchema, new Uint8Array(await (await fetch("demo.binpb")).arrayBuffer()));
  library = createFileRegistry(set).getService(service);
} catch (e) {
  results.setup = { ok: false, error: String((e && e.message) || e) };
  window.done = true;
  throw e;
}
const method = (name) => library.methods.find((m) => m.name === name);
const auth = { Authorization: "Bearer " + token };

// connect-web's client over one transport: a read, a server stream, a
// write with a token, and the same write without one (UNAUTHENTICATED
// from the policy, carried to the page as a status).
async function connectWeb(transport) {
  const client = createClient(library, transport);
  const shelf = await client.getShelf({ name: "shelves/scifi" });
  const titles = [];
  for await (const book of client.exportBooks({ parent: "shelves/scifi" })) {
    titles.push(book.title);
  }
  const created = await client.createShelf({ shelf: { displayName: "From a page" } }, { headers: auth });
  let refused = "none";
  try {
    await client.createShelf({ shelf: { displayName: "Nobody" } });
  } catch (e) {
    refused = Code[ConnectError.from(e).code];
  }
  return { shelf: shelf.shelf.name, exported: titles.length, created: created.shelf.displayName, refused };
}

// Google's grpc-web runtime, with a MethodDescriptor whose serializers are
// @bufbuild/protobuf's (grpc-web's own generator is a native plugin).
function descriptor(name, type) {
  const m = method(name);
  return new MethodDescriptor(`/${service}/${name}`, type, Object, Object,
    (req) => toBinary(m.input, req), (bytes) => fromBinary(m.output, bytes));
}

async function grpcWeb(format) {
  const client = new GrpcWebClientBase({ format });
  const get = descriptor("GetShelf", MethodType.UNARY);
  const shelf = await client.unaryCall(`${gw}/${service}/GetShelf`,
    create(method("GetShelf").input, { name: "shelves/classics" }), {}, get);
  const out = { shelf: shelf.shelf.name };
  const createDesc = descriptor("CreateShelf", MethodType.UNARY);
  const created = await client.unaryCall(`${gw}/${service}/CreateShelf`,
    create(method("CreateShelf").input, { shelf: { displayName: "grpc-web " + format } }), { authorization: auth.Authorization }, createDesc);
  out.created = created.shelf.displayName;
  if (format === "text") {
    // Server streaming: grpc-web streams only its text format.
    out.exported = await new Promise((resolve, reject) => {
      let n = 0;
      const stream = client.serverStreaming(`${gw}/${service}/ExportBooks`,
        create(method("ExportBooks").input, { parent: "shelves/scifi" }), {}, descriptor("ExportBooks", MethodType.SERVER_STREAMING));
      stream.on("data", () => n++);
      stream.on("error", reject);
      stream.on("end", () => resolve(n));
    });
  }
  return out;
}

// fetch of a REST binding with Authorization: not a simple request, so the
// browser sends a preflight first.
async function restWrite() {
  const res = await fetch(`${gw}/v1/shelves`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ shelf: { displayName: "From fetch" } }),
  });
  const body = await res.json();
  return { status: res.status, created: body.shelf.displayName, requestId: res.headers.get("X-Request-Id") !== null };
}

// Server-Sent Events, closed on the final event as the README shows.
function eventSource() {
  return new Promise((resolve, reject) => {
    const es = new EventSource(`${gw}/v1/shelves/scifi/books:export`);
    let messages = 0;
    es.onmessage = () => messages++;
    es.addEventListener("end", () => { es.close(); resolve({ messages }); });
    es.addEventListener("grpc-error", (e) => { es.close(); reject(new Error(e.data)); });
    es.onerror = () => { es.close(); reject(new Error("EventSource error after " + messages + " messages")); };
  });
}

// A bidirectional call over a WebSocket (DiscussBook), as the README
// shows: one JSON message each way per WebSocket message, the second sent
// only once the first answer came (the call is bidirectional, not a
// batch), an empty message to end the page's side, then the final status
// and a normal close.
function webSocketBidi() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(gw.replace(/^http/, "ws") + "/v1/books:discuss", ["sluice.json"]);
    const answers = [];
    let status = null;
    ws.onopen = () => ws.send(JSON.stringify({ name: "shelves/classics/books/moby-dick", text: "Call me Ishmael?" }));
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (answers.length === 2 || msg.code !== undefined) {
        status = msg;
        return;
      }
      answers.push(msg);
      if (answers.length === 1) {
        ws.send(JSON.stringify({ text: "And the whale?" }));
        ws.send("");
      }
    };
    ws.onerror = () => reject(new Error("WebSocket error after " + answers.length + " answers"));
    ws.onclose = (e) => resolve({
      answers: answers.map((a) => a.sequence).join(","), speaker: answers.length ? answers[0].speaker : null,
      status: status && status.code, close: e.code, subprotocol: ws.protocol,
    });
  });
}

const cases = {
  "connect-web grpc-web": () => connectWeb(createGrpcWebTransport({ baseUrl: gw })),
  "connect-web connect": () => connectWeb(createConnectTransport({ baseUrl: gw })),
  "grpc-web text": () => grpcWeb("text"),
  "grpc-web binary": () => grpcWeb("binary"),
  "fetch with preflight": restWrite,
  "EventSource": eventSource,
  "WebSocket bidi": webSocketBidi,
};

for (const [name, run] of Object.entries(cases)) {
  if (only && !only.includes(name)) continue;
  try {
    results[name] = { ok: true, value: await run() };
  } catch (e) {
    results[name] = { ok: false, error: String((e && e.message) || e) };
  }
}
document.getElementById("out").textContent = JSON.stringify(results, null, 2);
window.done = true;
