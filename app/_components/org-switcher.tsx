"use client";

import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { cn } from "@/lib/ui/cn";

/** A menu button listing the user's organizations; Escape or a click outside closes it. */
export function OrgSwitcher({ orgs, current }: { orgs: Array<{ slug: string; name: string; role: string }>; current?: string }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const cur = orgs.find((o) => o.slug === current);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    document.addEventListener("mousedown", onDoc);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDoc);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div ref={root} className="relative">
      <button
        type="button"
        aria-expanded={open}
        aria-controls="org-switcher-menu"
        onClick={() => setOpen((o) => !o)}
        className="inline-flex items-center gap-2 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 shadow-sm hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-600"
      >
        <span className="sr-only">Switch organization. Current: </span>
        <span className="max-w-48 truncate">{cur?.name ?? "Choose an organization"}</span>
        {cur ? <span className="text-xs font-normal text-slate-500">{cur.role}</span> : null}
        <svg aria-hidden="true" viewBox="0 0 20 20" className="h-4 w-4 text-slate-500" fill="currentColor">
          <path d="M5.5 7.5 10 12l4.5-4.5" stroke="currentColor" strokeWidth="1.5" fill="none" />
        </svg>
      </button>
      {open ? (
        <div id="org-switcher-menu" className="absolute left-0 z-20 mt-1 w-72 rounded-md border border-slate-200 bg-white py-1 shadow-lg">
          <ul aria-label="Your organizations">
            {orgs.map((o) => (
              <li key={o.slug}>
                <Link
                  href={`/orgs/${o.slug}/integrations`}
                  onClick={() => setOpen(false)}
                  aria-current={o.slug === current ? "true" : undefined}
                  className={cn(
                    "flex items-center justify-between px-3 py-2 text-sm hover:bg-slate-50 focus-visible:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-600",
                    o.slug === current && "font-semibold",
                  )}
                >
                  <span className="truncate">{o.name}</span>
                  <span className="ml-2 text-xs text-slate-500">{o.role}</span>
                </Link>
              </li>
            ))}
          </ul>
          <div className="border-t border-slate-100 pt-1">
            <Link
              href="/orgs/new"
              onClick={() => setOpen(false)}
              className="block px-3 py-2 text-sm font-medium text-brand-700 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-brand-600"
            >
              + New organization
            </Link>
          </div>
        </div>
      ) : null}
    </div>
  );
}
