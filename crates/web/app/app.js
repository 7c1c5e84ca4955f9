// The Apostle app: sign-in, the team's feed, sharing, and Settings with the
// member's connections. Plain JavaScript with no framework; it talks to
// nothing but this server's /api/v1, with a bearer token kept in this
// browser. A reconnect leaves for the provider and comes back to /app with
// the result in the address, as a native app's deep link would.
'use strict';

const API = '/api/v1';
const KEYS = {
  token: 'apostle.token',
  // Who signed in and their teams, so the app opens with no network too.
  me: 'apostle.me',
  team: 'apostle.team',
  // A share interrupted by a reconnect: which accounts and which text, so
  // that "Share now" after the return shares what the member chose.
  pending: 'apostle.pendingShare',
};

const saved = {
  get(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch (_) { return null; }
  },
  set(key, value) { localStorage.setItem(key, JSON.stringify(value)); },
  drop(key) { localStorage.removeItem(key); },
};

const state = { me: null, team: null, returned: null, generation: 0 };

// Elements are built from data with text nodes only, never with innerHTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const PROVIDERS = { linkedin: 'LinkedIn', x: 'X', facebook: 'Facebook', instagram: 'Instagram' };
const providerName = (p) => PROVIDERS[p] || p;

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `The server answered ${status}.`);
    this.status = status;
    this.error = (body && body.error) || {};
  }
}

// The server could not be reached at all.
class Offline extends Error {}

function setOffline(offline) {
  document.getElementById('offline').hidden = !offline;
}

async function api(method, path, body, headers) {
  const token = saved.get(KEYS.token);
  const init = { method, headers: Object.assign({ Accept: 'application/json' }, headers || {}) };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (_) {
    setOffline(true);
    throw new Offline('Apostle cannot be reached.');
  }
  setOffline(!navigator.onLine);
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    if (response.status === 401 && token && path !== '/auth/token') {
      forget();
      showSignIn('Your sign-in has ended. Sign in again.');
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

// Every item of a list, whatever its shape: `{key: [...]}`, a bare array,
// or pages of `{items, next_cursor}` followed to the end.
async function list(path, key) {
  let items = [];
  let url = path;
  for (let page = 0; page < 100; page += 1) {
    const body = await api('GET', url);
    const got = Array.isArray(body) ? body : (body[key] || body.items || []);
    items = items.concat(got);
    const next = !Array.isArray(body) && body.next_cursor;
    if (!next) break;
    url = `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(next)}`;
  }
  return items;
}

function notice(ok, text, id) {
  return h('div', { class: `notice ${ok ? 'ok' : 'error'}`, role: ok ? 'status' : 'alert', id }, text);
}

// What to say when a load or an action failed.
function failure(e) {
  if (e instanceof Offline) {
    return notice(false, 'You are offline: Apostle cannot be reached. Try again when you are back online.');
  }
  return notice(false, e.message);
}

// Replaces the screen: a heading that takes the focus (so a screen reader
// announces the new screen), then the content. Returns the new generation:
// work that belongs to an older screen stops when it sees a newer one.
function screen(title, ...content) {
  state.generation += 1;
  const heading = h('h1', { tabindex: '-1', id: 'screen-title' }, title);
  const main = document.getElementById('view');
  main.replaceChildren(heading, ...content);
  heading.focus();
  document.title = `${title} · Apostle`;
  for (const link of document.querySelectorAll('#menu a')) {
    if (link.getAttribute('href') === (location.hash || '#feed').replace(/\/.*/, '')) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  return state.generation;
}

function retryButton(again) {
  return h('button', { type: 'button', class: 'secondary', onclick: again }, 'Try again');
}

// ---------------------------------------------------------------- sign-in

function forget() {
  saved.drop(KEYS.token);
  saved.drop(KEYS.me);
  saved.drop(KEYS.pending);
  state.me = null;
  state.team = null;
}

function showSignIn(message) {
  document.getElementById('menu').hidden = true;
  document.getElementById('team-name').textContent = '';
  const error = h('div', { id: 'sign-in-error' });
  const form = h('form', { id: 'sign-in', class: 'stack card', novalidate: true },
    h('label', { for: 'email' }, 'Email'),
    h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true }),
    h('label', { for: 'password' }, 'Password'),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    error.replaceChildren();
    try {
      const issued = await api('POST', '/auth/token', {
        email: form.email.value.trim(),
        password: form.password.value,
        device_name: 'Apostle app',
      });
      saved.set(KEYS.token, issued.token);
      await start();
    } catch (e) {
      error.replaceChildren(e instanceof ApiError && e.status === 401
        ? notice(false, 'Wrong email or password.')
        : failure(e));
      button.disabled = false;
    }
  });
  screen('Sign in to Apostle', message ? notice(true, message) : null, error, form);
}

async function signOut() {
  try { await api('DELETE', '/auth/token'); } catch (_) { /* signed out here anyway */ }
  forget();
  showSignIn('You are signed out.');
}

// ---------------------------------------------------------------- start

// The result of a reconnect, in the address the provider's round trip came
// back to: read once, then taken out of the address so a reload does not
// show it again.
function readReturn() {
  const params = new URLSearchParams(location.search);
  if (![...params.keys()].length) return;
  const returned = {
    status: params.get('status'),
    message: params.get('message'),
    connection: params.get('connection_id'),
    post: params.get('post_id'),
    team: params.get('team'),
  };
  let hash = location.hash;
  if (returned.post) hash = `#post/${encodeURIComponent(returned.post)}`;
  else if (params.get('view') === 'settings') hash = '#settings';
  history.replaceState(null, '', `/app${hash}`);
  if (returned.status) state.returned = returned;
}

async function start() {
  const generation = screen('Apostle', h('p', { class: 'muted' }, 'Loading…'));
  try {
    state.me = await api('GET', '/me');
    saved.set(KEYS.me, state.me);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    if (generation !== state.generation) return;
    state.me = e instanceof Offline ? saved.get(KEYS.me) : null;
    if (!state.me) {
      screen('Apostle', failure(e), retryButton(start));
      return;
    }
  }
  const teams = state.me.teams || [];
  const wanted = (state.returned && state.returned.team) || saved.get(KEYS.team);
  state.team = teams.find((t) => t.slug === wanted) || teams[0] || null;
  if (!state.team) {
    screen('Apostle', h('p', {}, 'You are not in a team yet. Ask your team\'s admin for an invitation.'),
      h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'));
    return;
  }
  saved.set(KEYS.team, state.team.slug);
  document.getElementById('team-name').textContent = state.team.name;
  document.getElementById('menu').hidden = false;
  route();
}

function route() {
  if (!state.team) return;
  const hash = location.hash;
  const post = /^#post\/(\d+)$/.exec(hash);
  if (post) return showPost(Number(post[1]));
  if (hash === '#settings') return showSettings();
  return showFeed();
}

// ---------------------------------------------------------------- feed

const DELIVERY = {
  pending: 'Coming soon',
  delivered: 'Waiting for you',
  shared: 'Shared',
  rejected: 'Not for you',
  expired: 'Expired',
};

function feedPath() {
  return `/teams/${encodeURIComponent(state.team.slug)}/posts`;
}

async function showFeed() {
  const box = h('div', { id: 'feed' }, h('p', { class: 'muted' }, 'Loading…'));
  const generation = screen('Feed', box);
  let posts;
  try {
    posts = await list(feedPath(), 'posts');
  } catch (e) {
    if (generation === state.generation) box.replaceChildren(failure(e), retryButton(showFeed));
    return;
  }
  if (generation !== state.generation) return;
  if (!posts.length) {
    box.replaceChildren(h('p', { class: 'card muted' }, 'Nothing is suggested to you yet.'));
    return;
  }
  box.replaceChildren(h('ul', { class: 'rows card', id: 'posts' }, posts.map((post) => {
    const text = post.text.length > 180 ? `${post.text.slice(0, 180)}…` : post.text;
    const delivery = post.delivery ? DELIVERY[post.delivery.state] || post.delivery.state : post.status;
    return h('li', { class: 'feed-item', id: `post-${post.id}` },
      h('a', { class: 'open', href: `#post/${post.id}` },
        h('p', { class: 'post-text' }, text),
        h('span', { class: 'row-head' },
          h('span', { class: 'badge' }, delivery),
          post.providers.map((p) => h('span', { class: 'badge' }, providerName(p))))));
  })));
}

// ---------------------------------------------------------------- a post

const SHARE_STATES = {
  queued: 'Queued',
  publishing: 'Publishing…',
  published: 'Published',
  failed: 'Failed',
  waiting_for_reconnect: 'Waiting for a reconnect',
  unsure: 'Unsure: look at your account',
};

function targetLabel(target) {
  const where = `${providerName(target.provider)}${target.kind === 'business' ? ' page' : ''}`;
  return `${target.name} (${where})`;
}

function shareable(post) {
  const open = !post.delivery || ['delivered', 'shared'].includes(post.delivery.state);
  const admin = state.team.role === 'admin';
  return !post.in_bin && ['scheduled', 'sent'].includes(post.status) && (open || admin);
}

function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function showPost(id) {
  const box = h('div', { id: 'post' }, h('p', { class: 'muted' }, 'Loading…'));
  const generation = screen('Suggested post', h('p', {}, h('a', { href: '#feed' }, '← Feed')), box);
  const returned = state.returned && state.returned.post === String(id) ? state.returned : null;
  state.returned = null;
  let post;
  let shares;
  try {
    const posts = await list(feedPath(), 'posts');
    post = posts.find((p) => p.id === id);
    shares = post ? await list(`/posts/${id}/shares`, 'targets') : [];
  } catch (e) {
    if (generation === state.generation) box.replaceChildren(failure(e), retryButton(() => showPost(id)));
    return;
  }
  if (generation !== state.generation) return;
  if (!post) {
    box.replaceChildren(notice(false, 'This post is not in your feed.'));
    return;
  }
  const pending = saved.get(KEYS.pending);
  const resumed = pending && pending.post === id ? pending : null;
  const reconnected = returned && returned.status === 'reconnected';
  const top = [];
  if (reconnected) {
    top.push(notice(true, 'Reconnected — your post has not been shared yet. Press Share now to share it.', 'reconnected'));
  } else if (returned) {
    top.push(notice(false, `${returned.message || 'The reconnect did not finish.'} Nothing was shared.`, 'not-reconnected'));
  }
  const card = h('section', { class: 'card', id: 'post-card', 'aria-label': 'The post' },
    h('p', { class: 'post-text' }, post.text),
    post.link ? h('p', {}, h('a', { href: post.link, rel: 'noopener noreferrer', target: '_blank' }, post.link_title || post.link)) : null,
    post.image_url ? h('img', { class: 'post-image', src: post.image_url, alt: 'The post\'s image' }) : null,
    h('p', { class: 'muted' }, `Can be shared until ${new Date(post.expires_at).toLocaleString()}.`));
  const sharesBox = h('section', { class: 'card', id: 'shares', 'aria-live': 'polite' });
  const result = h('div', { id: 'share-result' });
  box.replaceChildren(...top, card, result,
    shareable(post) ? shareForm(post, resumed, reconnected, sharesBox, result, generation)
      : h('p', { class: 'card muted' }, 'This post can no longer be shared.'),
    sharesBox);
  showShares(post, shares, sharesBox);
  follow(post, sharesBox, generation, shares);
}

function showShares(post, shares, box) {
  if (!shares.length) {
    box.replaceChildren(h('h2', {}, 'Your shares'), h('p', { class: 'muted', id: 'no-shares' }, 'Not shared yet.'));
    return;
  }
  box.replaceChildren(h('h2', {}, 'Your shares'), h('ul', { class: 'rows' }, shares.map((share) => {
    const target = post.targets.find((t) => t.connection_id === share.connection_id);
    const ok = share.status === 'published';
    const bad = ['failed', 'waiting_for_reconnect', 'unsure'].includes(share.status);
    return h('li', { id: `share-${share.id}` },
      h('div', { class: 'row-head' },
        h('strong', {}, target ? targetLabel(target) : providerName(share.provider)),
        h('span', { class: `state share-state ${ok ? 'ok' : ''} ${bad ? 'bad' : ''}` }, SHARE_STATES[share.status] || share.status)),
      share.error ? h('p', { class: 'muted' }, share.error) : null,
      share.url ? h('a', { href: share.url, rel: 'noopener noreferrer', target: '_blank' }, `See it on ${providerName(share.provider)}`) : null);
  })));
}

// Follows the shares while some are on their way, for as long as this
// screen is shown.
function follow(post, box, generation, shares) {
  let rounds = 0;
  const busy = (list) => list.some((s) => s.status === 'queued' || s.status === 'publishing');
  const tick = async () => {
    if (generation !== state.generation || rounds > 60 || !busy(shares)) return;
    rounds += 1;
    try {
      shares = await list(`/posts/${post.id}/shares`, 'targets');
      if (generation === state.generation) showShares(post, shares, box);
    } catch (_) { /* the offline note says why; the next round tries again */ }
    setTimeout(tick, 1500);
  };
  setTimeout(tick, 1000);
}

function shareForm(post, resumed, reconnected, sharesBox, result, generation) {
  if (!post.targets.length) {
    return h('p', { class: 'card muted' }, 'None of your accounts suits this post. Connect one on the Apostle website.');
  }
  const chosen = resumed ? resumed.targets : post.targets.filter((t) => t.kind === 'personal').map((t) => t.connection_id);
  const choices = post.targets.map((t) => h('label', { class: 'choice' },
    h('input', { type: 'checkbox', name: 'target', value: t.connection_id, checked: chosen.includes(t.connection_id), id: `target-${t.connection_id}` }),
    h('span', {}, targetLabel(t),
      t.status === 'broken' ? h('span', { class: 'state bad' }, ' — disconnected, reconnect first') : null)));
  const text = h('textarea', { id: 'share-text', name: 'text', rows: '7' }, resumed ? resumed.text : post.text);
  let key = randomKey();
  const button = h('button', { type: 'submit', id: 'share' }, reconnected ? 'Share now' : 'Share');
  const form = h('form', { class: 'card stack', id: 'share-form' },
    h('h2', {}, 'Share it'),
    h('fieldset', {}, h('legend', {}, 'Share to'), choices),
    h('label', { for: 'share-text' }, 'Your text'),
    h('p', { class: 'muted', id: 'share-text-hint' }, 'Left as it is, each network gets the post\'s own wording.'),
    text,
    button);
  text.setAttribute('aria-describedby', 'share-text-hint');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const targets = [...form.querySelectorAll('input[name=target]:checked')].map((i) => Number(i.value));
    if (!targets.length) {
      result.replaceChildren(notice(false, 'Choose at least one account to share to.'));
      return;
    }
    const body = { targets, redirect_uri: `/app?view=post&team=${encodeURIComponent(state.team.slug)}` };
    if (text.value !== post.text) body.text = text.value;
    button.disabled = true;
    result.replaceChildren();
    try {
      await api('POST', `/posts/${post.id}/shares`, body, { 'Idempotency-Key': key });
      saved.drop(KEYS.pending);
      key = randomKey();
      button.textContent = 'Share';
      // "Not shared yet" is no longer true.
      const waiting = document.getElementById('reconnected');
      if (waiting) waiting.remove();
      result.replaceChildren(notice(true, 'Shared: each account below shows how it goes.', 'shared'));
      const shares = await list(`/posts/${post.id}/shares`, 'targets');
      if (generation === state.generation) {
        showShares(post, shares, sharesBox);
        follow(post, sharesBox, generation, shares);
      }
    } catch (e) {
      if (e instanceof ApiError && e.error.code === 'reconnect_required') {
        saved.set(KEYS.pending, { post: post.id, targets, text: text.value });
        result.replaceChildren(notice(true, `Nothing was shared: reconnect ${providerName(e.error.provider)} first. Taking you there…`));
        location.assign(e.error.authorize_url);
        return;
      }
      result.replaceChildren(failure(e));
    }
    button.disabled = false;
  });
  return form;
}

// ---------------------------------------------------------------- settings

function connectionRow(c) {
  const broken = c.status === 'broken';
  const where = `${providerName(c.provider)} ${c.kind === 'business' ? 'page' : 'personal account'}`;
  const since = c.broken_since ? ` since ${new Date(c.broken_since).toLocaleDateString()}` : '';
  const reconnect = c.provider_action
    ? h('p', { class: 'muted' }, c.provider_action)
    : h('div', { class: 'actions' }, h('button', {
      type: 'button',
      class: broken ? 'reconnect' : 'reconnect secondary',
      onclick: (event) => startReconnect(c, event.target),
    }, `Reconnect ${c.name}`));
  return h('li', { id: `connection-${c.id}`, 'data-status': c.status },
    h('div', { class: 'row-head' },
      h('strong', {}, c.name),
      h('span', { class: 'badge' }, where),
      c.team ? h('span', { class: 'badge' }, c.team.name) : null),
    broken
      ? h('p', {}, h('span', { class: 'state bad' }, `Broken${since}`), c.reason_text ? ` — ${c.reason_text}` : '')
      : h('p', {}, h('span', { class: 'state ok' }, c.status === 'active' ? 'Healthy' : c.status)),
    reconnect);
}

async function startReconnect(connection, button) {
  button.disabled = true;
  const result = document.getElementById('settings-result');
  try {
    const started = await api('POST', `/connections/${connection.id}/reconnect`, {
      redirect_uri: `/app?view=settings&team=${encodeURIComponent(state.team.slug)}`,
    });
    location.assign(started.authorize_url);
  } catch (e) {
    result.replaceChildren(failure(e));
    button.disabled = false;
  }
}

function showSettings() {
  const returned = state.returned && !state.returned.post ? state.returned : null;
  state.returned = null;
  const top = [];
  if (returned) {
    const done = returned.status === 'reconnected' || returned.status === 'connected';
    top.push(done
      ? notice(true, `Success! ${returned.message || 'Reconnected and ready for sharing.'}`, 'reconnect-result')
      : notice(false, returned.message || 'The reconnect did not finish; nothing changed.', 'reconnect-result'));
  }
  const search = h('input', { type: 'search', id: 'q', name: 'q', autocomplete: 'off' });
  const brokenOnly = h('input', { type: 'checkbox', id: 'broken-only' });
  const listed = h('ul', { class: 'rows', id: 'connections', 'aria-live': 'polite' });
  const count = h('p', { class: 'muted', id: 'connections-count' });
  const teams = state.me.teams.length > 1
    ? [h('label', { for: 'team' }, 'Team'),
      h('select', {
        id: 'team',
        onchange: (event) => {
          saved.set(KEYS.team, event.target.value);
          start();
        },
      }, state.me.teams.map((t) => h('option', { value: t.slug, selected: t.slug === state.team.slug }, t.name)))]
    : [];
  const generation = screen('Settings', ...top, h('div', { id: 'settings-result' }),
    h('section', { class: 'card', 'aria-labelledby': 'connections-title' },
      h('h2', { id: 'connections-title' }, 'Connections'),
      h('div', { class: 'filters' },
        h('div', { class: 'search' }, h('label', { for: 'q' }, 'Search connections'), search),
        h('label', { class: 'choice', for: 'broken-only' }, brokenOnly, 'Only broken ones')),
      count, listed),
    h('section', { class: 'card' },
      h('h2', {}, 'Account'),
      h('p', {}, `Signed in as ${state.me.user.name} (${state.me.user.email}).`),
      ...teams,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'sign-out', onclick: signOut }, 'Sign out'))));

  let asked = 0;
  const load = async () => {
    asked += 1;
    const mine = asked;
    const q = search.value.trim();
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    if (brokenOnly.checked) params.set('status', 'broken');
    const query = params.toString();
    let connections;
    try {
      connections = await list(`/connections${query ? `?${query}` : ''}`, 'connections');
    } catch (e) {
      if (generation === state.generation && mine === asked) listed.replaceChildren(h('li', {}, failure(e), retryButton(load)));
      return;
    }
    if (generation !== state.generation || mine !== asked) return;
    const broken = connections.filter((c) => c.status === 'broken').length;
    count.textContent = connections.length
      ? `${connections.length} connection${connections.length === 1 ? '' : 's'}${broken ? `, ${broken} broken` : ''}.`
      : (q || brokenOnly.checked ? 'No connection matches.' : 'No connection yet.');
    listed.replaceChildren(...connections.map(connectionRow));
    // What the list shows now, for whoever waits for it.
    listed.dataset.q = q;
    listed.dataset.status = brokenOnly.checked ? 'broken' : '';
  };
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  brokenOnly.addEventListener('change', load);
  load();
}

// ---------------------------------------------------------------- boot

function boot() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app' })
      .catch((e) => console.warn('the app will not open offline:', e));
  }
  window.addEventListener('online', () => setOffline(false));
  window.addEventListener('offline', () => setOffline(true));
  setOffline(!navigator.onLine);
  readReturn();
  window.addEventListener('hashchange', route);
  if (!saved.get(KEYS.token)) {
    showSignIn(null);
    return;
  }
  start();
}

boot();
