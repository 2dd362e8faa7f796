// The agent's live view: shows what the customer allowed as they change it (server-sent
// events from the same origin). Read only: it never sends anything back.
(() => {
  const box = document.getElementById('agent-choice');
  if (!box) return;
  const label = (id) => (document.getElementById(`l-${id}`) || {}).textContent || id;
  const es = new EventSource(`${window.location.pathname}/events`);
  es.addEventListener('camera_choice', (e) => {
    const s = JSON.parse(e.data);
    const c = s.choice;
    box.dataset.mode = c ? c.mode : 'none';
    document.getElementById('c-mode').textContent = c ? label(c.mode) : label('none');
    document.getElementById('c-blur').textContent = c ? label(c.background_blur ? 'yes' : 'no') : '–';
    document.getElementById('c-rec').textContent = c
      ? (c.recording_allowed && c.retention_days ? `${label('yes')}, ${c.retention_days} ${label('days')}` : label('no'))
      : '–';
  });
})();
