// Hostile message texts for the widget's renderer: the unit tests check the parsed trees
// (test/widget/markdown.test.ts); the browser tests are meant to render every text in a real page,
// as a model reply and as a visitor message, with `window.__pwned(name)` defined, and to give
// scripts, timers, focus, toggles and image errors time to fire (link payloads need a click).
//
// A payload counts as EXECUTED if `__pwned` is called (with any name) or if a dialog (alert,
// confirm, prompt, print) opens. Each payload would call `__pwned('<its name>')` were it to run
// where it is aimed; those aimed at a frame or a new window call it through `parent.` or
// `opener.`. Where the payload's point is an encoding (base64 in a data: URL) the call is inside
// the encoding; the unit test that checks the corpus decodes it.
//
// Almost none of these are Markdown: the renderer must show them as the text they are.

const b64 = (html: string): string => btoa(html);

export const XSS_CORPUS: Array<{ name: string; text: string }> = [
  // ---- Raw HTML: scripts and event handlers
  { name: 'script-tag', text: `<script>__pwned('script-tag')</script>` },
  { name: 'script-uppercase', text: `<SCRIPT>__pwned('script-uppercase')</SCRIPT>` },
  { name: 'script-src-data', text: `<script src="data:text/javascript,__pwned('script-src-data')"></script>` },
  { name: 'script-split', text: `<scr<script>ipt>__pwned('script-split')</scr</script>ipt>` },
  { name: 'img-onerror', text: `<img src=x onerror="__pwned('img-onerror')">` },
  { name: 'img-slash-separators', text: `<img/src/onerror=__pwned('img-slash-separators')>` },
  { name: 'img-spaced-handler', text: `<img src=x onerror  =  "__pwned('img-spaced-handler')">` },
  { name: 'img-newline-handler', text: `<img src=x\nonerror=__pwned('img-newline-handler')>` },
  { name: 'img-tab-handler', text: `<img\tsrc=x\tonerror=__pwned('img-tab-handler')>` },
  { name: 'img-backtick-attr', text: "<img src=x onerror=`__pwned('img-backtick-attr')`>" },
  { name: 'svg-onload', text: `<svg onload="__pwned('svg-onload')">` },
  { name: 'svg-script', text: `<svg><script>__pwned('svg-script')</script></svg>` },
  { name: 'svg-animate-onbegin', text: `<svg><animate onbegin="__pwned('svg-animate-onbegin')" attributeName=x dur=1s>` },
  { name: 'svg-a-xlink', text: `<svg><a xlink:href="javascript:__pwned('svg-a-xlink')"><text x=20 y=20>click</text></a></svg>` },
  { name: 'details-ontoggle', text: `<details open ontoggle="__pwned('details-ontoggle')"><summary>x</summary></details>` },
  { name: 'body-onload', text: `<body onload="__pwned('body-onload')">` },
  { name: 'input-autofocus', text: `<input autofocus onfocus="__pwned('input-autofocus')">` },
  { name: 'video-source-onerror', text: `<video><source onerror="__pwned('video-source-onerror')"></video>` },
  { name: 'audio-onerror', text: `<audio src=x onerror="__pwned('audio-onerror')"></audio>` },
  { name: 'marquee-onstart', text: `<marquee onstart="__pwned('marquee-onstart')">x</marquee>` },
  { name: 'custom-element-onclick', text: `<x-y onclick="__pwned('custom-element-onclick')">click me</x-y>` },
  { name: 'a-href-js', text: `<a href="javascript:__pwned('a-href-js')">click</a>` },
  { name: 'a-href-entity', text: `<a href="&#106;avascript:__pwned('a-href-entity')">click</a>` },
  { name: 'math-href', text: `<math href="javascript:__pwned('math-href')"><mtext>click</mtext></math>` },

  // ---- Frames, objects, forms, documents
  { name: 'iframe-srcdoc', text: `<iframe srcdoc="<script>parent.__pwned('iframe-srcdoc')</script>"></iframe>` },
  { name: 'iframe-src-js', text: `<iframe src="javascript:parent.__pwned('iframe-src-js')"></iframe>` },
  { name: 'iframe-src-data', text: `<iframe src="data:text/html,<script>parent.__pwned('iframe-src-data')</script>"></iframe>` },
  { name: 'object-data-js', text: `<object data="javascript:__pwned('object-data-js')"></object>` },
  { name: 'object-data-b64', text: `<object data="data:text/html;base64,${b64(`<script>parent.__pwned('object-data-b64')</script>`)}"></object>` },
  { name: 'embed-src-js', text: `<embed src="javascript:__pwned('embed-src-js')">` },
  { name: 'form-action-js', text: `<form action="javascript:__pwned('form-action-js')"><button>go</button></form>` },
  { name: 'button-formaction', text: `<form><button formaction="javascript:__pwned('button-formaction')">go</button></form>` },
  { name: 'meta-refresh', text: `<meta http-equiv="refresh" content="0;url=javascript:__pwned('meta-refresh')">` },
  { name: 'base-href', text: `<base href="javascript:__pwned('base-href')//"><a href="/x">relative</a>` },
  { name: 'link-import', text: `<link rel=import href="data:text/html,<script>__pwned('link-import')</script>">` },
  { name: 'template-content', text: `<template><img src=x onerror=__pwned('template-content')></template>` },

  // ---- CSS
  { name: 'style-expression', text: `<div style="width: expression(__pwned('style-expression'))">x</div>` },
  { name: 'style-url-js', text: `<div style="background:url(javascript:__pwned('style-url-js'))">x</div>` },
  { name: 'style-tag-import', text: `<style>@import url("javascript:__pwned('style-tag-import')");</style>` },

  // ---- Parser confusion (mutation XSS): strings a sanitizer sees one way and a reparse another
  { name: 'mxss-noscript', text: `<noscript><p title="</noscript><img src=x onerror=__pwned('mxss-noscript')>">` },
  { name: 'mxss-style', text: `<svg></p><style><a id="</style><img src=1 onerror=__pwned('mxss-style')>">` },
  { name: 'mxss-math-mglyph', text: `<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;img src=1 onerror=__pwned('mxss-math-mglyph')&gt;">` },
  { name: 'mxss-math-style', text: `<math><style><img src=x onerror=__pwned('mxss-math-style')></style></math>` },
  { name: 'mxss-form-math', text: `<form><math><mtext></form><form><mglyph><style></math><img src onerror=__pwned('mxss-form-math')>` },
  { name: 'mxss-noembed', text: `<noembed><img title="</noembed><img src onerror=__pwned('mxss-noembed')>"></noembed>` },
  { name: 'mxss-iframe-text', text: `<iframe><img title="</iframe><img src onerror=__pwned('mxss-iframe-text')>"></iframe>` },
  { name: 'mxss-xmp', text: `<xmp><img title="</xmp><img src onerror=__pwned('mxss-xmp')>"></xmp>` },
  { name: 'textarea-breakout', text: `<textarea></textarea><img src=x onerror=__pwned('textarea-breakout')>` },
  { name: 'title-breakout', text: `<title></title><img src=x onerror=__pwned('title-breakout')>` },
  { name: 'svg-cdata', text: `<svg><![CDATA[><img src=x onerror=__pwned('svg-cdata')>]]></svg>` },
  { name: 'html-comment', text: `<!--<img src=x onerror=__pwned('html-comment')>-->` },
  { name: 'comment-bang-close', text: `<!-- --!><img src=x onerror=__pwned('comment-bang-close')> -->` },
  { name: 'processing-instruction', text: `<? ><img src=x onerror=__pwned('processing-instruction')> ?>` },

  // ---- Markdown links and images with scripting schemes, and their obfuscations
  { name: 'md-js-link', text: `[click](javascript:__pwned('md-js-link'))` },
  { name: 'md-js-mixed-case', text: `[click](JaVaScRiPt:__pwned('md-js-mixed-case'))` },
  { name: 'md-js-tab', text: `[click](java\tscript:__pwned('md-js-tab'))` },
  { name: 'md-js-newline', text: `[click](java\nscript:__pwned('md-js-newline'))` },
  { name: 'md-js-nul', text: `[click](\u0000javascript:__pwned('md-js-nul'))` },
  { name: 'md-js-leading-space', text: `[click](   javascript:__pwned('md-js-leading-space'))` },
  { name: 'md-js-angle', text: `[click](<javascript:__pwned('md-js-angle')>)` },
  { name: 'md-js-angle-spaces', text: `[click](< java script:__pwned('md-js-angle-spaces') >)` },
  { name: 'md-js-title', text: `[click](javascript:__pwned('md-js-title') "a title")` },
  { name: 'md-js-entity-dec', text: `[click](&#106;avascript:__pwned('md-js-entity-dec'))` },
  { name: 'md-js-entity-hex', text: `[click](&#x6A;avascript:__pwned('md-js-entity-hex'))` },
  { name: 'md-js-entity-colon', text: `[click](javascript&colon;__pwned('md-js-entity-colon'))` },
  { name: 'md-js-entity-tab', text: `[click](jav&#x09;ascript:__pwned('md-js-entity-tab'))` },
  { name: 'md-js-percent', text: `[click](%6Aavascript:__pwned('md-js-percent'))` },
  { name: 'md-js-comment-newline', text: `[click](javascript://%0a__pwned('md-js-comment-newline'))` },
  { name: 'md-js-backslash', text: `[click](\\javascript:__pwned('md-js-backslash'))` },
  { name: 'md-js-https-confusion', text: `[click](https:javascript:__pwned('md-js-https-confusion'))` },
  { name: 'md-js-bidi-override', text: `[click](java\u202Escript:__pwned('md-js-bidi-override'))` },
  { name: 'md-js-zero-width', text: `[click](java\u200Bscript:__pwned('md-js-zero-width'))` },
  { name: 'md-js-bom', text: `[click](\uFEFFjavascript:__pwned('md-js-bom'))` },
  { name: 'md-js-word-joiner', text: `[click](java\u2060script:__pwned('md-js-word-joiner'))` },
  { name: 'md-js-soft-hyphen', text: `[click](java\u00ADscript:__pwned('md-js-soft-hyphen'))` },
  { name: 'md-data-html', text: `[click](data:text/html,<script>__pwned('md-data-html')</script>)` },
  { name: 'md-data-html-b64', text: `[click](data:text/html;base64,${b64(`<script>opener.__pwned('md-data-html-b64')</script>`)})` },
  { name: 'md-vbscript', text: `[click](vbscript:__pwned('md-vbscript'))` },
  { name: 'md-file', text: `[click](file:///etc/passwd#__pwned('md-file'))` },
  { name: 'md-protocol-relative', text: `[click](//evil.example/#__pwned('md-protocol-relative'))` },
  { name: 'md-image-js', text: `![x](javascript:__pwned('md-image-js'))` },
  { name: 'md-image-data-svg', text: `![x](data:image/svg+xml,<svg onload=__pwned('md-image-data-svg')>)` },
  { name: 'md-image-alt-breakout', text: `![x" onerror="__pwned('md-image-alt-breakout')](https://invalid.example/x.png)` },
  { name: 'md-title-breakout', text: `[x](https://ok.example "a\\" onmouseover=\\"__pwned('md-title-breakout')")` },
  { name: 'md-href-quote-breakout', text: `[x](https://ok.example/"onmouseover="__pwned('md-href-quote-breakout'))` },
  { name: 'md-rtl-link-text', text: `[https://ok.example/\u202Egpj.exe](javascript:__pwned('md-rtl-link-text'))` },
  { name: 'md-nested-link', text: `[[x](javascript:__pwned('md-nested-link'))](https://ok.example)` },
  { name: 'md-image-in-link', text: `[![x](javascript:__pwned('md-image-in-link'))](https://ok.example)` },
  { name: 'md-reference-link', text: `[x][1]\n\n[1]: javascript:__pwned('md-reference-link')` },
  { name: 'md-reference-shortcut', text: `[x]\n\n[x]: javascript:__pwned('md-reference-shortcut')` },
  { name: 'md-link-in-list', text: `1. [click](javascript:__pwned('md-link-in-list'))\n2. ok` },
  { name: 'md-link-in-heading', text: `# [click](javascript:__pwned('md-link-in-heading'))` },

  // ---- Autolinks and bare URLs
  { name: 'autolink-js', text: `<javascript:__pwned('autolink-js')>` },
  { name: 'autolink-js-case', text: `<JAVASCRIPT:__pwned('autolink-js-case')>` },
  { name: 'autolink-vbscript', text: `<vbscript:__pwned('autolink-vbscript')>` },
  { name: 'autolink-data-b64', text: `<data:text/html;base64,${b64(`<script>opener.__pwned('autolink-data-b64')</script>`)}>` },
  { name: 'bare-js-url', text: `javascript:__pwned('bare-js-url')` },
  { name: 'bare-url-quote-breakout', text: `https://ok.example/"><img src=x onerror=__pwned('bare-url-quote-breakout')>` },
  { name: 'bare-url-angle-breakout', text: `see https://ok.example/<script>__pwned('bare-url-angle-breakout')</script>` },

  // ---- HTML inside, around and across code
  { name: 'fence-html', text: "```html\n<img src=x onerror=__pwned('fence-html')>\n```" },
  { name: 'fence-breakout', text: "```\n</code></pre><img src=x onerror=__pwned('fence-breakout')>\n```" },
  { name: 'fence-unterminated', text: "```\n<script>__pwned('fence-unterminated')</script>" },
  { name: 'fence-lang-breakout', text: `~~~"><img src=x onerror=__pwned('fence-lang-breakout')>\ncode\n~~~` },
  { name: 'fence-lang-class', text: "```x onmouseover=__pwned('fence-lang-class')\ncode\n```" },
  { name: 'fence-around-html', text: "<img src=x onerror=__pwned('fence-around-html')>\n```\ncode\n```\n<b>after</b>" },
  { name: 'inline-code-html', text: "`<img src=x onerror=__pwned('inline-code-html')>`" },
  { name: 'inline-code-breakout', text: "`</code><img src=x onerror=__pwned('inline-code-breakout')>`" },
  { name: 'inline-code-in-tag', text: "<img src=x onerror=__pwned('inline-code-in-tag') `alt`>" },
  { name: 'backtick-split-tag', text: "`<img` src=x onerror=__pwned('backtick-split-tag')>`" },
  { name: 'code-link-literal', text: "`[x](javascript:__pwned('code-link-literal'))`" },

  // ---- Emphasis and brackets interleaved with HTML
  { name: 'strong-around-html', text: `**<img src=x onerror=__pwned('strong-around-html')>**` },
  { name: 'em-split-tag', text: `*<img src=x *onerror=__pwned('em-split-tag')>*` },
  { name: 'underscore-split-tag', text: `_<img src=x _onerror=__pwned('underscore-split-tag')>_` },
  { name: 'em-code-interleave', text: "*`<img src=x onerror=__pwned('em-code-interleave')>*`" },
  { name: 'strong-js-link', text: `**[click](javascript:__pwned('strong-js-link'))**` },
  { name: 'link-text-html', text: `[<img src=x onerror=__pwned('link-text-html')>](https://ok.example)` },
  { name: 'list-item-html', text: `- <img src=x onerror=__pwned('list-item-html')>\n- two` },
  { name: 'heading-script', text: `# <script>__pwned('heading-script')</script>` },
  { name: 'entity-encoded-script', text: `&lt;script&gt;__pwned('entity-encoded-script')&lt;/script&gt;` },
];
