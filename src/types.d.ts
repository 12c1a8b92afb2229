// Bun imports files as text when asked (`with { type: "text" }`); they are embedded in the compiled binary.
declare module "*.txt" {
  const text: string;
  export default text;
}
declare module "*.html" {
  const text: string;
  export default text;
}
