/** Who the site is about: the owner's introduction on the home page. */
export const owner = {
  name: 'Alex Martin',
  role: 'Systems programmer · C, Unix and the web',
  intro:
    'I write small, careful programs in C — raytracers, interpreters, simulations — and I like showing them running rather than describing them. Every project here runs live in a sandboxed terminal in your browser: open one, type make, and watch it build.',
  links: [{ label: 'Source of this site', href: 'https://github.com/' }],
}
