/**
 * The console's HTML: a shell for its bundle (`/console/assets/console.js`, built by
 * `apps/gateway/src/console/build.mjs` from Preact, htm, uPlot and the SDK). No inline
 * script or style, so the policy below allows only files from this origin.
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Switchboard console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/console.js"></script>
</head>
<body><div id="app"></div><noscript>The console needs JavaScript.</noscript></body>
</html>
`;

/**
 * Nothing may frame the console (an admin key is typed into it: clickjacking), it runs and
 * styles only files of its origin, connects only to its origin (HTTP and WebSocket), and
 * submits no form anywhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
