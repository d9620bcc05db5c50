#!/usr/bin/env python3
"""Checks ModelPort's HTML reports in a real headless browser (run by `make check-python`; optional).

  check_report.py MODELPORT_BINARY [--screenshots DIR]

Writes two reports from the bundled samples: `verify` of bert-tiny against f16, Q8_0 and Q4_0 copies with --text
inputs (several candidates, tokens, per-tensor tables), and `convert --preset mixed-q4 --report out.html`. Each page
is opened with Debian's `chromium` in light and in dark mode (prefers-color-scheme), and must:
  - render: the DOM chromium builds holds the verdict banner and the SVG plots;
  - log nothing to the console (chromium --enable-logging=stderr prints every console message as INFO:CONSOLE);
  - give a screenshot that is not a single colour (hundreds of colours, text and plots), with a light background
    in light mode and a dark one in dark mode.
Skipped, with a message, when chromium is not installed (`apt-get install -y chromium`). Needs Pillow to read
the screenshots. With --screenshots DIR the PNGs are kept there to look at.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def run(binary, *args, expect=0):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if result.returncode != expect:
        sys.exit(f"modelport {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def browser(exe, page, mode, *extra):
    """Runs headless chromium on `page`; returns (stdout, console lines)."""
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--enable-logging=stderr", "--v=0", "--window-size=1200,2400"]
    if mode == "dark":
        flags += ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]
    else:
        flags += ["--blink-settings=preferredColorScheme=1"]
    result = subprocess.run(flags + list(extra) + ["file://" + os.path.abspath(page)], capture_output=True, text=True,
                            timeout=120)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result, console


def check_page(exe, page, name, keep):
    from PIL import Image

    size = os.path.getsize(page)
    text = open(page, encoding="utf-8").read()
    assert "<script" not in text.lower(), f"{name}: has a script"
    assert "http://" not in text and "https://" not in text, f"{name}: refers to the network"
    result, console = browser(exe, page, "light", "--dump-dom")
    dom = result.stdout
    assert 'id="verdict"' in dom and "<svg" in dom, f"{name}: chromium's DOM lacks the banner or the plots"
    assert not console, f"{name}: console messages:\n" + "\n".join(console)
    for mode in ("light", "dark"):
        shot = os.path.join(keep, f"{name}-{mode}.png")
        result, console = browser(exe, page, mode, f"--screenshot={shot}")
        assert result.returncode == 0 and os.path.exists(shot), f"{name} ({mode}): no screenshot:\n{result.stderr[-2000:]}"
        assert not console, f"{name} ({mode}): console messages:\n" + "\n".join(console)
        image = Image.open(shot).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 20) or []
        background = image.getpixel((4, 4))
        luminance = sum(background) / 3
        assert len(colours) > 200, f"{name} ({mode}): only {len(colours)} colours in the screenshot"
        assert (luminance > 200) if mode == "light" else (luminance < 60), f"{name} ({mode}): background {background}"
        print(f"ok: {name} ({mode}): {size} bytes of HTML, screenshot {image.size[0]}×{image.size[1]} with {len(colours)} colours")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if exe is None:
        print("skipped: the HTML report check needs chromium (Debian: apt-get install -y chromium)")
        return
    try:
        import PIL  # noqa: F401
    except ImportError:
        print("skipped: the HTML report check needs Pillow to read screenshots (pip install pillow)")
        return
    keep = None
    if "--screenshots" in sys.argv:
        keep = os.path.abspath(sys.argv[sys.argv.index("--screenshots") + 1])
        os.makedirs(keep, exist_ok=True)
    sample = os.path.join(HERE, "bert-tiny")
    with tempfile.TemporaryDirectory() as out:
        shots = keep or out
        run(binary, "convert", sample, f"{out}/bert-f16", "--dtype", "f16")
        run(binary, "convert", sample, f"{out}/bert-q8_0.gguf", "--dtype", "q8_0")
        run(binary, "convert", sample, f"{out}/bert-q4_0.gguf", "--dtype", "q4_0")
        run(binary, "verify", sample, f"{out}/bert-f16", f"{out}/bert-q8_0.gguf", f"{out}/bert-q4_0.gguf",
            "--text", "we convert the model weights", "--text", "a smaller file", "--report", f"{out}/verify.html")
        run(binary, "convert", sample, f"{out}/bert-mixed.gguf", "--preset", "mixed-q4", "--report", f"{out}/quality.html")
        check_page(exe, f"{out}/verify.html", "verify", shots)
        check_page(exe, f"{out}/quality.html", "convert", shots)
        if keep:
            for name in ("verify.html", "quality.html"):
                shutil.copy(f"{out}/{name}", os.path.join(keep, name))
            print(f"screenshots and pages kept in {keep}")


if __name__ == "__main__":
    main()
