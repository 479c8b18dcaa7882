import { createEffect } from 'solid-js'

/** Sets the document title from a reactive source: "<page> · Shellfolio". */
export function useTitle(title: () => string | undefined): void {
  createEffect(() => {
    const t = title()
    document.title = t ? `${t} · Shellfolio` : 'Shellfolio'
  })
}
