/**
 * The login page's HTML. No inline script or style anywhere (not even a `style=` attribute): the
 * page is served with `script-src 'self'; style-src 'self'`, so everything it runs or styles comes
 * from /assets/app.js and /assets/app.css (OWASP Content Security Policy Cheat Sheet).
 * The ids are a public contract: the browser test and the client script rely on them.
 */
/** A labelled input: the label first, tied to the input by `for`/`id`. */
function field(id: string, label: string, attributes: string): string {
  return `<label for="${id}">${label}</label>
      <input id="${id}" ${attributes} required>`
}

/** A form's error line (announced when shown) and its submit button. */
function submitRow(form: string, text: string): string {
  return `<p id="${form}-error" class="error" role="alert" hidden></p>
      <button id="${form}-submit" type="submit" class="primary">${text}</button>`
}

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>sessionkit</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body data-state="loading">
<main class="wrap">
  <header class="brand">
    <h1>sessionkit</h1>
    <p class="muted">Demo auth server</p>
  </header>

  <p id="notice" class="notice" role="status" aria-live="polite" hidden></p>

  <!-- Shown two minutes before the idle timeout; "Stay signed in" refreshes the idle clock. -->
  <div id="idle-warning" class="notice warning row" role="alert" hidden>
    <span id="idle-text"></span>
    <button id="stay-signed-in" type="button" class="small">Stay signed in</button>
  </div>

  <!-- Asked in place when a sensitive action answers REAUTH_REQUIRED; the action is then retried. -->
  <section id="reauth" class="card" aria-labelledby="reauth-title" hidden>
    <h2 id="reauth-title">Confirm your password</h2>
    <p class="muted">This action needs a recent sign-in. Enter your password to continue.</p>
    <form id="reauth-form" method="post" action="/reauth">
      ${field('reauth-password', 'Password', 'name="password" type="password" autocomplete="current-password"')}
      <p id="reauth-error" class="error" role="alert" hidden></p>
      <div class="actions">
        <button id="reauth-cancel" type="button">Cancel</button>
        <button id="reauth-submit" type="submit" class="primary">Confirm</button>
      </div>
    </form>
  </section>

  <section id="login-view" class="card" aria-labelledby="login-title">
    <h2 id="login-title">Sign in</h2>
    <!-- method/action only matter without JavaScript: never put a password in a query string. -->
    <form id="login-form" method="post" action="/login">
      ${field('email', 'Email', 'name="email" type="email" autocomplete="username"')}
      ${field('password', 'Password', 'name="password" type="password" autocomplete="current-password"')}
      <label class="check"><input id="remember" name="remember" type="checkbox"> Remember me</label>
      ${submitRow('login', 'Sign in')}
    </form>
  </section>

  <section id="dashboard" class="card" aria-labelledby="welcome" hidden>
    <div class="row">
      <div>
        <h2 id="welcome"></h2>
        <p class="muted">Signed in as <strong id="user-email"></strong> <span id="user-role" class="badge" hidden></span></p>
      </div>
      <button id="logout" type="button">Log out</button>
    </div>
  </section>

  <section id="sessions-card" class="card" aria-labelledby="sessions-title" hidden>
    <div class="row">
      <h2 id="sessions-title">Active sessions</h2>
      <button id="sessions-refresh" type="button" class="small">Refresh</button>
    </div>
    <ul id="sessions" class="sessions"></ul>
    <p id="sessions-error" class="error" role="alert" hidden></p>
    <div class="actions">
      <button id="revoke-others" type="button" class="danger">Log out other sessions</button>
    </div>
  </section>

  <section id="password-card" class="card" aria-labelledby="password-title" hidden>
    <h2 id="password-title">Change password</h2>
    <form id="password-form" method="post" action="/password">
      ${field('current-password', 'Current password', 'type="password" autocomplete="current-password"')}
      ${field('new-password', 'New password', 'type="password" autocomplete="new-password" minlength="8"')}
      ${submitRow('password', 'Change password')}
    </form>
  </section>

  <section id="users-card" class="card" aria-labelledby="users-title" hidden>
    <div class="row">
      <h2 id="users-title">Users</h2>
      <button id="users-refresh" type="button" class="small">Refresh</button>
    </div>
    <ul id="users" class="sessions"></ul>
    <p id="users-error" class="error" role="alert" hidden></p>
    <form id="user-form" method="post" action="/admin/users">
      <h3>New user</h3>
      <label for="new-user-email">Email</label>
      <input id="new-user-email" type="email" autocomplete="off" required>
      <label for="new-user-name">Name</label>
      <input id="new-user-name" maxlength="100" autocomplete="off" required>
      <label for="new-user-role">Role</label>
      <select id="new-user-role"><option value="user">user</option><option value="admin">admin</option></select>
      <label for="new-user-password">Password</label>
      <input id="new-user-password" type="password" autocomplete="new-password" minlength="8" required>
      <p id="user-form-error" class="error" role="alert" hidden></p>
      <button id="user-create" type="submit" class="primary">Create user</button>
    </form>
  </section>

  <section id="cart" class="card" aria-labelledby="cart-title">
    <h2 id="cart-title">Cart</h2>
    <form id="cart-form" class="inline" method="post" action="/cart">
      <label for="cart-item" class="sr-only">Item</label>
      <input id="cart-item" name="item" maxlength="100" placeholder="e.g. Coffee beans" autocomplete="off" required>
      <button id="cart-add" type="submit" class="primary">Add to cart</button>
    </form>
    <p id="cart-error" class="error" role="alert" hidden></p>
    <ul id="cart-items" class="cart-items"></ul>
    <p id="cart-empty" class="muted">Your cart is empty.</p>
  </section>
</main>
</body>
</html>
`
