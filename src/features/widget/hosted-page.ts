// The hosted chat page (§7, GET /c/{slug}): a server-rendered shell (title and description from
// the chatbot, in the visitor's language) that loads widget.js in page mode. Every value is
// escaped; the page's own Content-Security-Policy allows Parley's origin only, and who may frame
// it follows the chatbot's allowed_origins.
import type { PublicChatbotRow } from '../public/public-chatbots.repo.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The widget's languages; the page says which, and the widget reads it. */
export function pageLanguage(acceptLanguage: string | undefined): 'en' | 'zh-Hant' | 'bn' {
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [range = '', ...params] = part.toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      // The primary subtag alone: "bnn" (Bunun) is not "bn". Some clients write zh_TW for zh-TW.
      return { language: range.trim().split(/[-_]/, 1)[0], q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((entry) => entry.language && entry.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { language } of ranked) {
    if (language === 'zh') return 'zh-Hant';
    if (language === 'bn') return 'bn';
    if (language === 'en') return 'en';
  }
  return 'en';
}

export function hostedPageCsp(chatbot: PublicChatbotRow): string {
  const ancestors = chatbot.allowedOrigins.length === 0 ? '*' : ["'self'", ...chatbot.allowedOrigins].join(' ');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${ancestors}`,
  ].join('; ');
}

export function hostedPage(chatbot: PublicChatbotRow, lang: string): string {
  const name = escapeHtml(chatbot.name);
  const description = escapeHtml(chatbot.description || chatbot.greeting);
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>${name}</title>
<meta name="description" content="${description}">
<meta name="referrer" content="strict-origin-when-cross-origin">
<meta name="color-scheme" content="light dark">
<script src="/widget.js" data-chatbot="${escapeHtml(chatbot.slug)}" data-mode="page" async></script>
</head>
<body>
<noscript><h1>${name}</h1><p>${description}</p><p>This chat needs JavaScript.</p></noscript>
</body>
</html>
`;
}

export function notFoundPage(): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Not found</title></head>
<body><main><h1>Not found</h1><p>There is no public chatbot at this address.</p></main></body>
</html>
`;
}

export function busyPage(retryAfterSeconds: number): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Too many requests</title></head>
<body><main><h1>Too many requests</h1><p>Too many requests came from your network. Try again in ${retryAfterSeconds} seconds.</p></main></body>
</html>
`;
}
