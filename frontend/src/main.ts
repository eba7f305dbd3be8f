import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { initAppearance } from './stores/settings';
import { guardDrops } from './lib/dropguard';

async function start() {
  // The dev mock is compiled out of production builds entirely.
  if (import.meta.env.DEV && new URLSearchParams(location.search).has('mock')) {
    const { installMock } = await import('./lib/mock');
    installMock();
  }
  initAppearance();
  guardDrops();
  mount(App, { target: document.getElementById('app')! });
}

start();
