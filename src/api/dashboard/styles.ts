/**
 * The dashboard's one stylesheet, inlined in every page under a CSP nonce: no file to serve, no
 * font or script from anywhere else. System fonts; numbers in tabular figures and right-aligned so
 * columns of counts line up; a content width that reads well at 1280–1440 px and reflows at
 * 1024 px and below; wide tables scroll inside their own box, never the page.
 */
export const DASHBOARD_CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--accent:#0b5cad;
--listing:#0b5cad;--retraction:#c4432b;--ok:#1a7f37;--warn:#9a6700;--bad:#b42318;color-scheme:light}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.45;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
header.top{background:#11253d;color:#fff}
header.top .bar{max-width:1240px;margin:0 auto;padding:.6rem 1.5rem;display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;align-items:center}
header.top .brand{display:flex;flex-direction:column;line-height:1.25;font-weight:650;letter-spacing:.01em;color:#fff;text-decoration:none;margin-right:.5rem}
header.top .brand small{font-weight:400;font-size:.8rem;color:#a9bdd3;letter-spacing:0}
header.top nav{display:flex;gap:1.1rem;flex-wrap:wrap}
header.top nav a{color:#c9d7e8;text-decoration:none;padding:.15rem 0;border-bottom:2px solid transparent}
header.top nav a[aria-current=page]{color:#fff;border-bottom-color:#7fb0e6}
header.top .who{margin-left:auto;display:flex;gap:.75rem;align-items:center;color:#c9d7e8;font-size:.9rem}
header.top .who button{background:transparent;color:#fff;border:1px solid #7f93aa;border-radius:4px;padding:.2rem .6rem;font:inherit;cursor:pointer}
main{max-width:1240px;margin:0 auto;padding:1.25rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.2rem 0 .2rem}
h2{font-size:1.15rem;margin:2rem 0 .6rem}
h3{font-size:1rem;margin:1.2rem 0 .5rem}
p.lede{color:var(--muted);margin:.1rem 0 1rem}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:.75rem;margin:1rem 0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}
.card .label{color:var(--muted);font-size:.85rem}
.card .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{padding:.45rem .7rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--panel);font-weight:600;vertical-align:bottom}
th.member{min-width:9rem}
.small{font-size:.85rem}
h1 .mono{font-size:.95em}
tbody tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.num{white-space:normal}
td.when{white-space:nowrap;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.88rem}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.8rem;overflow:auto;white-space:pre;max-height:36rem}
pre.receipt{white-space:pre-wrap;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.82rem;font-weight:600;border:1px solid currentColor;white-space:nowrap}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}
.empty{background:var(--panel);border:1px dashed var(--line);border-radius:6px;padding:.9rem 1rem;color:var(--muted)}
.empty strong{color:var(--fg)}
.notice{border-left:4px solid var(--warn);background:#fff8e5;padding:.6rem .9rem;border-radius:4px;margin:1rem 0}
.error{border-left:4px solid var(--bad);background:#fdecea;padding:.6rem .9rem;border-radius:4px;margin:1rem 0}
form.inline{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;margin:.8rem 0 1.2rem}
form.inline label{display:flex;flex-direction:column;align-items:flex-start;gap:.2rem;font-size:.88rem;color:var(--muted)}
input[type=text],input[type=password]{font:inherit;padding:.35rem .5rem;border:1px solid #8c959f;border-radius:4px;color:var(--fg);background:#fff}
input.wide{width:24rem;max-width:100%}
button.primary{font:inherit;background:var(--accent);color:#fff;border:0;border-radius:4px;padding:.42rem 1rem;cursor:pointer}
a.button{display:inline-block;border:1px solid var(--accent);border-radius:4px;padding:.3rem .8rem;text-decoration:none}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1.5rem}
.chart{display:block;width:100%;height:auto}
figure{margin:0}
caption{text-align:left;padding:.45rem .7rem;color:var(--muted);font-size:.88rem;border-bottom:1px solid var(--line)}
td.bar-col,th.bar-col{width:32%;min-width:5rem;vertical-align:middle}
svg.mixbar{display:block}
.legend{display:flex;gap:1.2rem;font-size:.88rem;color:var(--muted);margin:.2rem 0 .4rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.35rem;vertical-align:-.05rem}
.swatch.listing{background:var(--listing)}.swatch.retraction{background:var(--retraction)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;font-variant-numeric:tabular-nums}
ul.plain{list-style:none;padding:0;margin:0}
ul.lag{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.1rem .9rem}
details summary{cursor:pointer;color:var(--accent);margin:.6rem 0}
.login{max-width:30rem;margin:4rem auto;padding:1.5rem 1.75rem;border:1px solid var(--line);border-radius:8px;background:var(--panel)}
.login form{display:flex;flex-direction:column;gap:.9rem;margin-top:1rem}
.login label{display:flex;flex-direction:column;gap:.3rem;font-weight:600}
.login input{width:100%;font-weight:400}
footer{max-width:1240px;margin:0 auto;padding:0 1.5rem 2rem;color:var(--muted);font-size:.85rem}
`;
