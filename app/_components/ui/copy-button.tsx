"use client";

import { useState } from "react";
import { Button, type ButtonSize, type ButtonVariant } from "./button";

/** Copies `value` to the clipboard and says so (politely) for screen readers. */
export function CopyButton({
  value,
  label = "Copy",
  variant = "outline",
  size = "sm",
  describedBy,
}: {
  value: string;
  label?: string;
  variant?: ButtonVariant;
  size?: ButtonSize;
  describedBy?: string;
}) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <>
      <Button
        variant={variant}
        size={size}
        aria-describedby={describedBy}
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(value);
            setState("copied");
          } catch {
            setState("failed");
          }
          setTimeout(() => setState("idle"), 2000);
        }}
      >
        {state === "copied" ? "Copied" : label}
      </Button>
      <span className="sr-only" aria-live="polite">
        {state === "copied" ? "Copied to the clipboard" : state === "failed" ? "Copy failed; select the text and copy it by hand" : ""}
      </span>
    </>
  );
}

/** A read-only block of text (JSON, a command) with a copy button. */
export function CopyBlock({ value, label }: { value: string; label: string }) {
  return (
    <div className="relative">
      <pre
        aria-label={label}
        tabIndex={0}
        className="max-h-72 overflow-auto rounded-md border border-slate-200 bg-slate-50 p-3 pr-20 text-xs leading-relaxed text-slate-800"
      >
        {value}
      </pre>
      <div className="absolute top-2 right-2">
        <CopyButton value={value} label="Copy" />
      </div>
    </div>
  );
}
