"""Accessibility basics checked in the browser on a rendered page: every form field has a
label, every link and button a name, every action is reachable by keyboard, and text has
WCAG AA contrast against its background (4.5:1, or 3:1 for large text)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

# Runs in the page; returns a list of problems in words (empty when all is well).
CHECKS_JS = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" && (box.width > 0 || box.height > 0);
  };
  const describe = (el) => {
    const id = el.id ? "#" + el.id : "";
    const name = el.getAttribute("name") ? `[name=${el.getAttribute("name")}]` : "";
    const text = (el.textContent || "").trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}${id}${name}> ${text}`.trim();
  };
  const accessibleName = (el) =>
    (el.getAttribute("aria-label") || "").trim() ||
    (el.getAttribute("aria-labelledby") || "")
      .split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean)
      .map((n) => n.textContent.trim()).join(" ") ||
    (el.labels ? Array.from(el.labels).map((l) => l.textContent.trim()).join(" ") : "") ||
    (el.getAttribute("title") || "").trim();

  // 1. Every form field a person fills has a label.
  for (const field of document.querySelectorAll("input, select, textarea")) {
    const type = (field.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset"].includes(type) || field.hidden || !visible(field)) continue;
    if (!accessibleName(field)) problems.push("field without a label: " + describe(field));
  }
  // 2. Every link and button says what it does, and can be reached with the keyboard.
  for (const control of document.querySelectorAll("a[href], button, summary, [role=button]")) {
    if (!visible(control)) continue;
    const name = (control.textContent || "").trim() || accessibleName(control) ||
      (control.querySelector("img[alt]") ? control.querySelector("img[alt]").alt : "");
    if (!name) problems.push("control without a name: " + describe(control));
    if (control.tabIndex < 0) problems.push("control out of the tab order: " + describe(control));
  }
  // Click handlers on things that are not controls cannot be reached by keyboard.
  for (const el of document.querySelectorAll("[onclick]")) {
    if (!el.matches("a[href], button, input, select, textarea, summary")) {
      problems.push("mouse-only action: " + describe(el));
    }
  }
  // 3. Contrast of text against its effective background.
  const parse = (color) => {
    const m = color.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(",").map((v) => parseFloat(v));
    return { r, g, b, a: a === undefined ? 1 : a };
  };
  const luminance = ({ r, g, b }) => {
    const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0.5) return bg;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim() || !visible(el)) continue;
    if (el.closest("svg")) continue;  // charts carry their figures as text too; checked by their own tests
    seen.add(el);
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      const colors = `${style.color} on rgb(${bg.r}, ${bg.g}, ${bg.b})`;
      problems.push(`contrast ${ratio.toFixed(2)}:1 < ${needed}:1 for ${describe(el)} (${colors})`);
    }
  }
  return problems;
}
"""


def accessibility_problems(page: Page) -> list[str]:
    result: Any = page.evaluate(CHECKS_JS)
    return [str(problem) for problem in result]
