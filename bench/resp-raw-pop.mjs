/**
 * What a RESP server gives of pops when the client costs almost nothing: `RPOP raw 1000` on one
 * raw socket, 2 in flight, each reply counted by its exact byte length (run after
 * resp-raw-push.mjs filled the list with values of SIZE bytes).
 *
 *   node bench/resp-raw-pop.mjs PORT [SIZE=128] [COUNT=1000000] [IN_FLIGHT=2] [BATCH=1000]
 */
import net from 'node:net';
const [port, size = '128', count = '1000000', inflight = '2', batch = '1000'] = process.argv.slice(2);
const S = +size, N = +count, F = +inflight, B = +batch;
const cmd = Buffer.from(`*3\r\n$4\r\nRPOP\r\n$3\r\nraw\r\n$${String(B).length}\r\n${B}\r\n`);
const replyLen = `*${B}\r\n`.length + B * (`$${S}\r\n`.length + S + 2);
const sock = net.connect(+port, '127.0.0.1'); sock.setNoDelay(true);
await new Promise((r) => sock.once('connect', r));
const t0 = performance.now(); const cpu0 = process.cpuUsage();
let got = 0, sent = 0, done;
const fin = new Promise((r) => (done = r));
for (let k = 0; k < F; k++) { sock.write(cmd); sent++; }
sock.on('data', (d) => {
  const before = Math.floor(got / replyLen);
  got += d.length;
  const after = Math.floor(got / replyLen);
  for (let r = before; r < after; r++) {
    if ((r + 1) * B >= N) { done(); return; }
    if (sent * B < N) { sock.write(cmd); sent++; }
  }
});
await fin;
const dt = (performance.now() - t0) / 1000; const c = process.cpuUsage(cpu0);
console.log(`pop size ${S}: ${N} in ${dt.toFixed(2)} s = ${Math.round(N / dt)} msg/s, client cpu ${((c.user + c.system) / 1e6).toFixed(2)} s`);
sock.end();
