// The login form posts itself (form-action 'self'); this only explains a failure.
const params = new URLSearchParams(location.search);
if (params.get('failed')) {
  const p = document.getElementById('error');
  p.textContent = 'Wrong password.';
  p.hidden = false;
}
