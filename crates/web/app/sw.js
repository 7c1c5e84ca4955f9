// The Apostle app's service worker: it keeps the app's shell (page, script,
// style, manifest, icons) so the app opens with no network. The API is never
// cached: what the app shows from it is the server's word, and when the
// server cannot be reached the app says so instead of guessing.
'use strict';

// Replaced when served by a digest of the shell's files, so any change to
// them installs a new worker and a fresh cache.
const VERSION = '__SHELL_VERSION__';
const CACHE = 'apostle-app-' + VERSION;
const SHELL = [
  '/app',
  '/app/app.js',
  '/app/app.css',
  '/app/manifest.webmanifest',
  '/assets/icon.svg',
  '/assets/icon-192.png',
  '/assets/icon-512.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting())
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith('apostle-app-') && k !== CACHE).map((k) => caches.delete(k))
      ))
      .then(() => self.clients.claim())
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && url.pathname === '/app') {
    // The network first, so an update shows at once and a return from a
    // provider reaches the server; the kept shell when it cannot be reached.
    event.respondWith(
      fetch(request).catch(() =>
        caches.match('/app', { ignoreSearch: true }).then((kept) => kept || Response.error())
      )
    );
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname).then((kept) => kept || fetch(request))
    );
  }
});
