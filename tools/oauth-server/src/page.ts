/** The verification page a user opens to approve or deny a device (RFC 8628 §3.3). */

/** What the page shows besides the form. */
export interface PageContent {
  /** Pre-filled into the form (from `?user_code=`, or what was just submitted). */
  userCode?: string;
  /** The pending request the code belongs to, shown so the user knows what they approve. */
  request?: { clientId: string; scope: string };
  /** The outcome of a submission, or why it failed. */
  notice?: { kind: 'success' | 'error'; text: string };
}

/** The full HTML document. Every interpolated value is escaped. */
export function renderDevicePage({ userCode = '', request, notice }: PageContent): string {
  const requestHtml = request
    ? `<p><strong>${escape(request.clientId)}</strong> asks for access${request.scope ? ` to <code>${escape(request.scope)}</code>` : ''}.</p>`
    : '';
  const noticeHtml = notice ? `<p class="${notice.kind}" role="status">${escape(notice.text)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect a device</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }
input { font: inherit; letter-spacing: .15em; text-transform: uppercase; padding: .3rem; }
button { font: inherit; margin: .8rem .5rem 0 0; }
.success { color: #176117; } .error { color: #a3161b; }
</style>
</head>
<body>
<h1>Connect a device</h1>
${noticeHtml}${requestHtml}
<form method="post" action="/device">
<label>Code shown on your device<br><input name="user_code" value="${escape(userCode)}" autocomplete="off" autofocus required></label><br>
<button name="action" value="approve">Approve</button><button name="action" value="deny">Deny</button>
</form>
</body>
</html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
