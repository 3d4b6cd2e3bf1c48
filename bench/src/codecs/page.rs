//! The web page the browser workload scrolls: a long article as a help desk
//! knowledge base shows it, with headings, paragraphs, a table and photos.
//! The photos are drawn by a seeded script (grainy gradients with shapes),
//! so every run renders the same page without fetching anything.

const WORDS: [&str; 16] = [
    "remote",
    "support",
    "session",
    "customer",
    "technician",
    "screen",
    "printer",
    "driver",
    "network",
    "settings",
    "restart",
    "update",
    "account",
    "password",
    "window",
    "install",
];

fn paragraph(seed: usize) -> String {
    let words: Vec<&str> = (0..70).map(|i| WORDS[(seed * 13 + i * 7 + i / 3) % WORDS.len()]).collect();
    format!("<p>{}.</p>\n", words.join(" "))
}

fn table(seed: usize) -> String {
    let rows: String = (0..6)
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{} min</td></tr>",
                WORDS[(seed + r) % 16],
                WORDS[(seed + r * 5) % 16],
                3 + (seed + r * 7) % 40
            )
        })
        .collect();
    format!("<table><tr><th>Step</th><th>Area</th><th>Time</th></tr>{rows}</table>\n")
}

/// The page's HTML.
pub fn html() -> String {
    let mut body = String::new();
    for section in 0..14 {
        body.push_str(&format!("<h2>{section}. How to {} the {}</h2>\n", WORDS[section], WORDS[section + 2]));
        body.push_str(&paragraph(section * 3));
        if section % 2 == 0 {
            body.push_str(&format!(
                "<canvas class=photo width=720 height=300 data-seed={section}></canvas>\n"
            ));
        }
        body.push_str(&paragraph(section * 3 + 1));
        if section % 3 == 1 {
            body.push_str(&table(section));
        }
        body.push_str(&paragraph(section * 3 + 2));
    }
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Knowledge base</title>
<style>
body {{ font-family: sans-serif; margin: 0; background: #f4f5f7; color: #222; }}
header {{ background: #1f4e79; color: white; padding: 14px 40px; font-size: 22px; }}
main {{ max-width: 980px; margin: 0 auto; background: white; padding: 20px 40px; }}
p {{ line-height: 1.5; font-size: 16px; }}
table {{ border-collapse: collapse; margin: 10px 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 14px; }}
th {{ background: #e8eef5; }}
canvas {{ display: block; margin: 12px 0; }}
</style></head>
<body><header>Help centre · Knowledge base</header><main>
{body}</main>
<script>
for (const c of document.querySelectorAll('canvas.photo')) {{
  let s = Number(c.dataset.seed) * 7919 + 1;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const g = c.getContext('2d');
  const img = g.createImageData(c.width, c.height);
  const [r0, g0, b0] = [rand() * 255, rand() * 255, rand() * 255];
  for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {{
    const i = (y * c.width + x) * 4, n = (rand() - 0.5) * 40;
    img.data[i] = r0 * (1 - x / c.width) + 200 * (y / c.height) + n;
    img.data[i + 1] = g0 * (y / c.height) + 120 * (x / c.width) + n;
    img.data[i + 2] = b0 + 60 * Math.sin(x / 40 + y / 60) + n;
    img.data[i + 3] = 255;
  }}
  g.putImageData(img, 0, 0);
  for (let k = 0; k < 6; k++) {{
    g.fillStyle = `rgba(${{rand() * 255 | 0}},${{rand() * 255 | 0}},${{rand() * 255 | 0}},0.5)`;
    g.beginPath();
    g.arc(rand() * c.width, rand() * c.height, 20 + rand() * 70, 0, 7);
    g.fill();
  }}
}}
</script></body></html>
"#
    )
}
