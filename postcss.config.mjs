// Tailwind CSS 4 through PostCSS (Next/Turbopack picks this file up).
export default {
  plugins: { "@tailwindcss/postcss": {} },
};
