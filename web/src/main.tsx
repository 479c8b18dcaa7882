import { hydrate, render } from 'solid-js/web'
import { App } from './app.tsx'
import type { Site } from './lib/contract.ts'
import './styles.css'

const root = document.getElementById('root')
if (!root) throw new Error('#root is missing from index.html')
// Written by the server render (entry-server.tsx): the owner's profile, so nothing is refetched.
const data = document.getElementById('site-data')?.textContent
const site = data ? (JSON.parse(data) as Site) : undefined
// A page rendered on the server is hydrated (its markup is kept); the Vite dev server renders here.
if ((window as { _$HY?: unknown })._$HY) hydrate(() => <App site={site} />, root)
else render(() => <App site={site} />, root)
