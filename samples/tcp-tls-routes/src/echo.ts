// A TCP echo server for the tcp-tls-routes sample: greets each connection with its name
// ("echo-v1\n"), then echoes every byte back. Listens on $POD_IP (or 0.0.0.0) and the
// port from argv[2] (default 9000); the name is argv[3] or $ECHO_NAME.
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export function startEcho(name: string, port: number, host = '0.0.0.0'): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 9000);
  const name = process.argv[3] ?? process.env.ECHO_NAME ?? 'echo';
  const host = process.env.POD_IP ?? '0.0.0.0';
  const server = await startEcho(name, port, host);
  console.log(`${name} echoing on ${host}:${port}`);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
