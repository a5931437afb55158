/**
 * What a RESP server takes of pushes when the client costs almost nothing: `LPUSH raw v1..v1000`
 * commands of precomputed bytes on one raw socket, 2 in flight, replies counted by their CRLFs.
 * Measures the server (Omnibus or Redis), not a client library; pair with resp-raw-pop.mjs.
 *
 *   node bench/resp-raw-push.mjs PORT [SIZE=128] [COUNT=1000000] [IN_FLIGHT=2] [BATCH=1000]
 */
import net from 'node:net';
const [port, size = '128', count = '1000000', inflight = '2', batch = '1000'] = process.argv.slice(2);
const S = +size, N = +count, F = +inflight, B = +batch;
const val = Buffer.alloc(S, 97);
const parts = [Buffer.from(`*${B + 2}\r\n$5\r\nLPUSH\r\n$3\r\nraw\r\n`)];
const vh = Buffer.from(`$${S}\r\n`);
for (let i = 0; i < B; i++) parts.push(vh, val, Buffer.from('\r\n'));
const cmd = Buffer.concat(parts);
const sock = net.connect(+port, '127.0.0.1'); sock.setNoDelay(true);
await new Promise((r) => sock.once('connect', r));
sock.write('*2\r\n$3\r\nDEL\r\n$3\r\nraw\r\n');
let sent = 0, replies = -1, t0 = 0;
const cpu0 = process.cpuUsage();
let done;
const fin = new Promise((r) => (done = r));
let pend = '';
sock.on('data', (d) => {
  pend += d.toString('latin1');
  let i;
  while ((i = pend.indexOf('\r\n')) >= 0) {
    if (pend[0] === '-') throw new Error(`server replied ${pend.slice(0, i)}`);
    pend = pend.slice(i + 2);
    replies++;
    if (replies === 0) { t0 = performance.now(); for (let k = 0; k < F; k++) { sock.write(cmd); sent++; } continue; }
    if (replies * B >= N) { done(); return; }
    if (sent * B < N) { sock.write(cmd); sent++; }
  }
});
await fin;
const dt = (performance.now() - t0) / 1000;
const c = process.cpuUsage(cpu0);
console.log(`size ${S}: ${N} in ${dt.toFixed(2)} s = ${Math.round(N / dt)} msg/s, client cpu ${((c.user + c.system) / 1e6).toFixed(2)} s`);
sock.end();
