#!/usr/bin/env node
// Serves the web client kit (clients/web) on its own origin, apart from the
// API's, so the browser makes real cross-origin (CORS) requests as it does in
// production. Only the files of that one folder, read-only: no listing, no
// dotfiles, nothing outside it.
//   node scripts/static-server.mjs [PORT]     (or DEMO_PORT; default 3030)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const port = Number(process.argv[2] || process.env.DEMO_PORT || 3030);
const root = resolve(fileURLToPath(new URL('../clients/web/', import.meta.url)));
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The file a URL path names inside root, or null. */
function fileFor(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.endsWith('/')) path += 'index.html';
  // No NUL, no backslash, no dot segment or dotfile ("..", ".git", ".env").
  if (path.includes('\0') || path.includes('\\') || path.split('/').some((s) => s.startsWith('.'))) return null;
  const file = resolve(join(root, path));
  return file.startsWith(root + sep) && types[extname(file)] ? file : null;
}

function answer(res, status, type, body, head = false) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(head ? undefined : body);
}

const server = createServer(async (req, res) => {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    return answer(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  const file = fileFor(new URL(req.url, 'http://x').pathname);
  try {
    if (!file || !(await stat(file)).isFile()) throw new Error('not found');
    answer(res, 200, types[extname(file)], await readFile(file), head);
  } catch {
    answer(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`Demo page on http://127.0.0.1:${port}/ (serving ${root})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
