"use client";

import { useState, type InputHTMLAttributes, type Ref, type TextareaHTMLAttributes } from "react";
import { cn } from "@/lib/ui/cn";
import { Input, Textarea } from "./input";

function Toggle({ shown, onToggle, controls }: { shown: boolean; onToggle: () => void; controls?: string }) {
  return (
    <button
      type="button"
      onClick={onToggle}
      aria-controls={controls}
      aria-pressed={shown}
      className="rounded px-2 py-1 text-xs font-medium text-brand-700 hover:bg-brand-50 focus-visible:outline-2 focus-visible:outline-brand-600"
    >
      {shown ? "Hide" : "Show"}
    </button>
  );
}

/** What both secret fields carry: no autofill and no spellcheck of the secret, and a data-secret mark. */
const SECRET_FIELD = { autoComplete: "off", spellCheck: false, "data-secret": "true" } as const;

/** A password input with show/hide. Never pre-filled: secrets do not come back from the server. */
export function SecretInput({ className, ref, ...props }: InputHTMLAttributes<HTMLInputElement> & { ref?: Ref<HTMLInputElement> }) {
  const [shown, setShown] = useState(false);
  return (
    <div className="flex items-center gap-2">
      <Input
        ref={ref}
        type={shown ? "text" : "password"}
        {...SECRET_FIELD}
        className={cn("font-mono", className)}
        {...props}
      />
      <Toggle shown={shown} onToggle={() => setShown((s) => !s)} controls={props.id} />
    </div>
  );
}

/** A multi-line secret (key file, PEM), masked until shown. */
export function SecretTextarea({ className, ref, ...props }: TextareaHTMLAttributes<HTMLTextAreaElement> & { ref?: Ref<HTMLTextAreaElement> }) {
  const [shown, setShown] = useState(false);
  return (
    <div className="space-y-1">
      <Textarea
        ref={ref}
        {...SECRET_FIELD}
        className={cn(shown ? undefined : "mask-secret", className)}
        {...props}
      />
      <div className="flex justify-end">
        <Toggle shown={shown} onToggle={() => setShown((s) => !s)} controls={props.id} />
      </div>
    </div>
  );
}
