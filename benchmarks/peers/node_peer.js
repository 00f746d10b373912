// The Node `bitmart-api` client on the benchmark firehose: node node_peer.js URL MARKET TOPIC N DEADLINE_S
// Counts `update` events; prints one JSON line {messages, wall, cpu} (seconds, from the first update).
"use strict";
const { WebsocketClient } = require("bitmart-api");

const [url, market, topic, nArg, deadlineArg] = process.argv.slice(2);
const n = Number(nArg);
const quiet = { trace() {}, info() {}, error() {} };
const client = new WebsocketClient({ wsUrl: url }, quiet);
let count = 0;
let t0 = 0n;
let c0 = null;

function finish() {
  const wall = t0 ? Number(process.hrtime.bigint() - t0) / 1e9 : 0;
  const cpu = c0 ? process.cpuUsage(c0) : { user: 0, system: 0 };
  process.stdout.write(JSON.stringify({ messages: count, wall, cpu: (cpu.user + cpu.system) / 1e6 }) + "\n");
  process.exit(0);
}

client.on("update", () => {
  count += 1;
  if (count === 1) {
    t0 = process.hrtime.bigint();
    c0 = process.cpuUsage();
  } else if (count === n) {
    finish();
  }
});
setTimeout(finish, Number(deadlineArg) * 1000);
client.subscribe(topic, market);
