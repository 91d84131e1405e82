import type { ReactNode } from "react";

export type Column = string | { label: ReactNode; className: string };

/**
 * A table that scrolls sideways on a narrow screen: a caption for screen readers, one header cell a
 * column (`px-3 py-2 font-medium` unless the column says otherwise), then the rows (children).
 */
export function DataTable({ caption, headClassName, columns, children }: { caption: ReactNode; headClassName: string; columns: Column[]; children: ReactNode }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className={headClassName}>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={typeof c === "string" ? "px-3 py-2 font-medium" : c.className}>
                {typeof c === "string" ? c : c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">{children}</tbody>
      </table>
    </div>
  );
}
